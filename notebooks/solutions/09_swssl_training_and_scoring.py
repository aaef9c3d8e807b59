"""Solutions to the exercises of 09_swssl_training_and_scoring.ipynb.

Each section runs in the notebook's namespace, from its cell `run_solution("09", N)`,
after the cells above it; it is not a module to import.
"""

# %% Solution to exercise 1
from swssl_lib.data import DEFAULT_IMAGE_SIZES

n_slices = 2000
dbt_grid = WindowGrid(*DEFAULT_IMAGE_SIZES["dbt"], PAPER.patch_size, PAPER.step_size)
dbt_full = WindowGrid(*DEFAULT_IMAGE_SIZES["dbt"], PAPER.patch_size, PAPER.step_size, include_last=True)
dbt_bytes = n_slices * paper_model.width * dbt_grid.positions * np.dtype(np.float16).itemsize
print(f"DBT {DEFAULT_IMAGE_SIZES['dbt']}: {dbt_grid.rows}×{dbt_grid.cols} = {dbt_grid.positions} windows per slice "
      f"(include_last: {dbt_full.rows}×{dbt_full.cols} = {dbt_full.positions}, {dbt_full.positions - dbt_grid.positions} more)")
print(f"bank ({n_slices:,}, {paper_model.width}, {dbt_grid.positions}) in float16: {dbt_bytes / 1e9:.2f} GB")
print("Reading: the width of the image only changes the number of columns; the bank grows linearly "
      "with images, channels and positions.")

# %% Solution to exercise 2
generator = torch.Generator().manual_seed(0)
toy_bank = torch.randn(2, 8, 6, generator=generator)  # (N = 2 images A, B; C = 8 channels; P = 6 positions)
a, b = toy_bank
left_right = torch.cat([a[:, :3], b[:, 3:]], dim=1)  # (8, 6): each position is an exact copy of A or B
channel_mix = torch.where((torch.arange(8) % 2 == 0)[:, None], a, b)  # (8, 6): each channel row copies A or B
for name, test in [("left-right", left_right), ("channel mix", channel_mix)]:
    reference_score = score_reference(toy_bank, test).image_scores.item()
    knn_score = score_patch_knn(toy_bank, test, k=1).image_scores.item()
    print(f"{name:<12} score_reference {reference_score:6.3f} | score_patch_knn {knn_score:6.3f}")
print("Reading: patch_knn looks for a match per position, so a collage of training windows scores 0; "
      "reference looks for a match per channel row, so a collage of channels scores 0.")

# %% Solution to exercise 3
from swssl_lib import evaluate, invert, sample_patch_pair, twin_loss
from swssl_lib.train import make_optimizer

def ablation_item(index: int, inverted_view: bool):
    """A training item as SWSSLDataset makes it, with view 2 from the inverted patch or the patch itself."""
    image = train_images.image(index)  # (H, W) uint8
    pair = sample_patch_pair(image, PATCH, STEP)
    top, left = pair.pixel_start(STEP)
    patch = image[None, top : top + PATCH, left : left + PATCH]  # (1, p, p)
    n_top, n_left = pair.neighbour_pixel_start(STEP)
    neighbour = image[None, n_top : n_top + PATCH, n_left : n_left + PATCH]  # (1, p, p)
    source2 = invert(patch) if inverted_view else patch
    return items.augment(patch), items.augment(source2), items.to_input(neighbour), torch.tensor(pair.similarity)

def train_ablation(inverted_view=True, neighbour_term=True, n_steps=2 if SMOKE else steps):
    torch.manual_seed(0)
    variant = PatchModel(backbone="resnet18", pretrained=PRETRAINED).to(device).train()
    optimizer = make_optimizer(variant, config)
    for _ in range(n_steps):
        chosen_images = torch.randint(len(train_images), (BATCH,)).tolist()
        batch = [ablation_item(i, inverted_view) for i in chosen_images]
        view1, view2, neighbour, similarity = (torch.stack(part).to(device) for part in zip(*batch))  # (B, ...)
        p1, pn, p2 = variant(view1)[0], variant(neighbour)[0], variant(view2)[0]  # (B, width) each
        loss = twin_loss(p1, p2, pn, similarity) if neighbour_term else twin_loss(p1, p2)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_value_(variant.parameters(), config.clip_value)
        optimizer.step()
    return variant

for name, options in [("full recipe", {}), ("no inversion", {"inverted_view": False}),
                      ("no neighbour term", {"neighbour_term": False})]:
    result = evaluate(train_ablation(**options), full_loader(train_images), full_loader(test_images),
                      PATCH, STEP, progress=False)
    print(f"{name:<18}", " | ".join(f"{scoring} AUC {r.auc:.3f}" for scoring, r in result.reports.items()))
print("Reading: one seed per variant on a few phantoms: differences of this size can come from the seed "
      "alone. Change the seed in train_ablation and run again before reading anything into the order.")

# %% Solution to exercise 4
class ProjectionFeatures(torch.nn.Module):
    """A patch model whose `embed` returns the projection, so the sliding windows use it."""

    def __init__(self, patch_model):
        super().__init__()
        self.patch_model = patch_model

    def embed(self, x):
        return self.patch_model(x)[0]  # (N, width) projection

projected = evaluate(ProjectionFeatures(model), full_loader(train_images), full_loader(test_images),
                     PATCH, STEP, progress=False)
for scoring in reports:
    print(f"{scoring:<9}: embedding AUC {reports[scoring].auc:.3f} | projection AUC {projected.reports[scoring].auc:.3f}")
better = [scoring for scoring in reports if reports[scoring].auc > projected.reports[scoring].auc]
print(f"In this run the embedding scores better with {better or 'neither scoring'}. The usual self-supervised "
      "practice scores with the embedding: the projector is shaped by the twin loss (invariance to the views), "
      "the layer before it keeps more of what the backbone sees. One seed on a few phantoms cannot settle "
      "which is better here.")
