"""Solutions to the exercises of 01_data_and_synthetic_anomalies.ipynb.

Each section runs in the notebook's namespace, from its cell `run_solution("01", N)`,
after the cells above it; it is not a module to import.
"""

# %% Solution to exercise 1
folder = {
    "train_normal": [f"n{i}" for i in range(50)],
    "unlabeled_normal": [f"un{i}" for i in range(40)],
    "unlabeled_abnormal": [f"ua{i}" for i in range(40)],
}
for ar in (CONFIG.ar, 0.9):
    try:
        pool = unlabeled_mix(folder, ar=ar)
    except ValueError as error:
        print(f"ar = {ar}: ValueError: {error}")
        continue
    pool_abnormal = [name for name in pool if name.startswith("ua")]
    print(f"ar = {ar}: {len(pool_abnormal)} abnormal ({pool_abnormal[0]} … {pool_abnormal[-1]}) + "
          f"{len(pool) - len(pool_abnormal)} normal = {len(pool)} images, as many as the labeled normals")
print("Reading: the pool always has N images, the first ⌊N·ar⌋ of them abnormal; when the folder has "
      "too few, the kit stops with an error instead of quietly changing the mix.")

# %% Solution to exercise 2
for side in (64, 128):
    blank = torch.zeros(300, 1, side, side)
    _, drawn = paste_anomalies(blank, torch.ones_like(blank), CONFIG.core_percent, torch.Generator().manual_seed(0))
    box_sides = drawn[:, 0].any(dim=2).sum(dim=1)  # rows covered by each box: (300,)
    low, high = round(0.05 * side), round(0.2 * side)
    print(f"{side}×{side}: half-width from [{low}, {high}) → box sides {2 * low} to {2 * (high - 1)} px; "
          f"drawn: {int(box_sides.min())} to {int(box_sides.max())} px")
print("Reading: the boxes grow with the image (5 % to 20 % of the side as half-width), so at any size "
      "they cover the same share of the anatomy.")

# %% Solution to exercise 4
blank = torch.zeros(1000, 1, 64, 64)
low, high = round(0.05 * 64), round(0.2 * 64)
uncut_area = (4 * torch.arange(low, high) ** 2).float().mean()  # mean of (2h)² over the half-widths
for core in (CONFIG.core_percent, 1.0):
    _, drawn = paste_anomalies(blank, torch.ones_like(blank), core, torch.Generator().manual_seed(0))
    drawn = drawn[:, 0]  # (1000, 64, 64)
    at_edge = drawn[:, 0].any(dim=1) | drawn[:, -1].any(dim=1) | drawn[:, :, 0].any(dim=1) | drawn[:, :, -1].any(dim=1)
    area = drawn.sum(dim=(1, 2)).float()
    print(f"core_percent = {core}: {at_edge.float().mean():4.0%} of the boxes reach the edge; mean box area "
          f"{area.mean():.0f} px (uncut boxes average {uncut_area:.0f} px)")
print("Reading: at the authors' value a box can at most touch the top or left edge, never cross it, so "
      "every anomaly keeps its full size; with the whole image as core, many boxes are cut, some to a sliver.")
