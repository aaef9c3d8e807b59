# %% [markdown]
# # 07 · SWSSL: the patch grid, neighbours and augmentations
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/anomaly-course-kit/anomaly-course-kit/blob/main/notebooks/07_swssl_sliding_windows_and_augmentations.ipynb)
#
# **Learning goals**
# - Explain why SWSSL (sliding-window self-supervised learning) works on *patches* of a high-resolution image instead of a shrunken image.
# - Compute the authors' window grid, `(size − patch) // step` starts per axis, and say which border it never sees.
# - Draw a training item by hand: a patch, its neighbour within ±3 grid steps, and the neighbour's target similarity.
# - Name every augmentation of the chest and DBT recipes, and say why the second view is the *inverted* patch.
# - Quote the authors' ablation: what inversion, the neighbour term and resizing do to the chest AUC.

# %%
# Setup: on Colab, fetch and install the kit; everywhere, report the device.
import os
import subprocess
import sys

KIT_REPO = "anomaly-course-kit/anomaly-course-kit"
if "google.colab" in sys.modules:
    kit_dir = os.path.join("/content", KIT_REPO.split("/")[1])
    if not os.path.isdir(kit_dir):
        subprocess.run(["git", "clone", "--depth", "1", f"https://github.com/{KIT_REPO}", kit_dir], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", kit_dir], check=True)
    sys.path.insert(0, kit_dir)
    os.chdir(os.path.join(kit_dir, "notebooks"))

from anomaly_lib.device import describe_device, pick_device, smoke_mode

device = pick_device()
SMOKE = smoke_mode()  # KIT_SMOKE=1 shrinks sizes and iterations (the tests set it)
print("device:", describe_device(device), "| smoke mode" if SMOKE else "")

# %% [markdown]
# ## Why patches?
#
# A pneumonia focus or a small breast mass may cover a few dozen pixels of a 1024×1024 image. Shrink
# the image to the 224×224 an ImageNet network likes, and the lesion shrinks to a handful of pixels.
# SWSSL keeps the full resolution and works on **windows**:
#
# - **Training** (self-supervised, normal images only): cut a 128×128 patch from a grid, make two
#   augmented views of it (the second one from the *inverted* patch), and teach the network to give
#   both views the same representation. A second patch nearby, the *neighbour*, should be similar
#   in proportion to how close it is.
# - **Scoring**: slide the window over every test image and compare each window's feature with the
#   windows of the normal training images (notebook 09).
#
# Everything below uses the kit's `swssl_lib` and the phantoms of `anomaly_lib`, which draw
# chest-radiograph-like images at any size, with a known lesion mask.

# %%
from functools import partial
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Rectangle

from anomaly_lib.figures import show_figure
from anomaly_lib.phantoms import draw_breast, draw_chest
from swssl_lib import (
    CHEST,
    DBT,
    ImageSet,
    SWSSLDataset,
    WindowGrid,
    augmentation,
    grid_starts,
    invert,
    neighbour_similarity,
    nonblack_cells,
    sample_patch_pair,
    similarity_table,
    window_view,
)
from swssl_lib.augment import BLUR_KERNEL

OUT = Path("outputs") / "07_swssl_sliding_windows_and_augmentations"
OUT.mkdir(parents=True, exist_ok=True)
plt.rcParams.update({"font.size": 11, "figure.dpi": 90})

show = partial(show_figure, folder=OUT)  # show(fig, name): save OUT/name.png and display it

# %% [markdown]
# ## A high-resolution chest phantom
#
# The authors resize chest X-rays to 1024×1024 and use 128×128 patches with a step of 32. We do the
# same on an abnormal chest phantom (drawing one at 1024×1024 takes well under a second).

# %%
SIZE, PATCH, STEP = 1024, 128, 32  # the authors' chest setting
phantom = draw_chest(np.random.default_rng(3), SIZE, abnormal=True)
image = torch.from_numpy(phantom.image)  # (H, W) uint8: what the datasets hand to the sampler
lesion = phantom.lesion_mask  # (H, W) bool
print("image", tuple(image.shape), image.dtype, "| lesion pixels:", int(lesion.sum()),
      f"({lesion.mean():.2%} of the image)")

# %% [markdown]
# ## The window grid
#
# Along one axis of length $L$ the authors place windows at $k \cdot \text{step}$ for
# $k = 0, \dots, n-1$ with
#
# $$n = \left\lfloor \frac{L - \text{patch}}{\text{step}} \right\rfloor .$$
#
# For 1024/128/32 that is $n = 28$. The last *valid* start, $896 = 28 \cdot 32$ (a window from 896 to
# 1024), is skipped, so no window ever covers the last 32 pixel rows and columns. The training
# sampler and the evaluation use the same grid. `swssl_lib` reproduces it by default and offers
# `include_last=True` for the full grid.

# %%
# NBVAL_CHECK_OUTPUT
for size, patch, step in [(1024, 128, 32), (768, 128, 32), (256, 64, 32)]:
    n = grid_starts(size, patch, step)
    last_used = (n - 1) * step
    print(f"{size:>4} px, patch {patch}, step {step}: {n:>2} starts per axis "
          f"(0 … {last_used}); pixels {last_used + patch}…{size - 1} are in no window")
grid = WindowGrid(SIZE, SIZE, PATCH, STEP)
full = WindowGrid(SIZE, SIZE, PATCH, STEP, include_last=True)
print(f"chest 1024×1024: {grid.rows}×{grid.cols} = {grid.positions} windows "
      f"(with include_last: {full.positions})")
print("DBT 1024×768:", WindowGrid(1024, 768, 128, 32).shape, "windows (rows, cols)")

# %% [markdown]
# The picture: every window start as a dot, three windows outlined, and (right) a zoom on the
# bottom-right corner with the last window used, the skipped start and the strip no window covers.

# %%
fig, (ax, zoom) = plt.subplots(1, 2, figsize=(12, 6))
starts = np.array(grid.starts())  # (784, 2): (top, left) in position order, row by row
for axis in (ax, zoom):
    axis.imshow(image, cmap="gray", vmin=0, vmax=255)
    axis.contour(lesion, levels=[0.5], colors="yellow", linewidths=1)
    axis.scatter(starts[:, 1], starts[:, 0], s=4, c="cyan")
    axis.add_patch(Rectangle((SIZE - STEP, 0), STEP, SIZE, color="red", alpha=0.3))
    axis.add_patch(Rectangle((0, SIZE - STEP), SIZE, STEP, color="red", alpha=0.3))
for (top, left), colour in [((0, 0), "lime"), ((0, STEP), "orange"), ((13 * STEP, 5 * STEP), "magenta")]:
    ax.add_patch(Rectangle((left, top), PATCH, PATCH, fill=False, ec=colour, lw=2))
last = (grid.rows - 1) * STEP
zoom.add_patch(Rectangle((last, last), PATCH, PATCH, fill=False, ec="lime", lw=2))
zoom.add_patch(Rectangle((last + STEP, last + STEP), PATCH, PATCH, fill=False, ec="white", lw=2, ls="--"))
ax.set_xlim(-0.5, SIZE - 0.5)
ax.set_ylim(SIZE - 0.5, -0.5)
zoom.set_xlim(SIZE - 300, SIZE)
zoom.set_ylim(SIZE, SIZE - 300)
ax.set_title(f"{grid.rows}×{grid.cols} window starts (cyan); windows 0, 1 and one mid-lung")
zoom.set_title("corner: last window (green), skipped start (dashed),\nno window covers the red strip")
for axis in (ax, zoom):
    axis.set_xticks([])
    axis.set_yticks([])
fig.tight_layout()
show(fig, "grid")

# %% [markdown]
# At evaluation time all windows of a batch of images are taken at once as a *strided view*:
# `unfold` twice gives every window without copying a pixel. This is how `swssl_lib.sliding` avoids a
# Python loop over the 784 positions.

# %%
# NBVAL_CHECK_OUTPUT
images = image[None, None].float()  # (N=1, C=1, 1024, 1024)
windows = window_view(images, grid)  # (N, rows, cols, C, patch, patch)
print("images ", tuple(images.shape))
print("windows", tuple(windows.shape), "| shares memory with images:",
      windows.untyped_storage().data_ptr() == images.untyped_storage().data_ptr())
assert torch.equal(windows[0, 13, 5, 0], images[0, 0, 13 * STEP : 13 * STEP + PATCH, 5 * STEP : 5 * STEP + PATCH])

# %% [markdown]
# ## Never an all-black patch
#
# Real scans have empty background: exported DBT slices are black outside the breast, and some chest
# films have black borders. A patch with no tissue teaches nothing, so the sampler only draws grid
# cells whose patch has at least one pixel above 0. Here is a breast phantom at the DBT size
# 1024×768 (height × width) with its background set to exactly 0, as in exported slices.
#
# The authors draw cells at random *until* one is not black, a loop that never ends on an all-black
# image. `swssl_lib` draws uniformly among the non-black cells (the same distribution) and raises a
# clear error instead.

# %%
breast = draw_breast(np.random.default_rng(1), (1024, 768), abnormal=False)
dbt_image = torch.from_numpy(breast.image * breast.organ_mask)  # (1024, 768) uint8, background 0
usable = nonblack_cells(dbt_image, PATCH, STEP)  # (rows, cols) bool
print("DBT grid", tuple(usable.shape), f"| cells with tissue: {int(usable.sum())} of {usable.numel()}")

fig, ax = plt.subplots(figsize=(5, 6.5))
ax.imshow(dbt_image, cmap="gray", vmin=0, vmax=255)
rows, cols = np.nonzero(usable.numpy())
black_rows, black_cols = np.nonzero(~usable.numpy())
ax.scatter(cols * STEP, rows * STEP, s=6, c="lime", label="patch has tissue: may be drawn")
ax.scatter(black_cols * STEP, black_rows * STEP, s=6, c="red", label="all-black patch: never drawn")
ax.legend(loc="lower right", fontsize=9)
ax.set_title("window starts of the DBT grid")
ax.set_xticks([])
ax.set_yticks([])
show(fig, "nonblack_cells")

try:
    sample_patch_pair(torch.zeros(SIZE, SIZE, dtype=torch.uint8), PATCH, STEP, name="empty.png")
except ValueError as error:
    print("ValueError:", error)

# %% [markdown]
# ## The neighbour and its target similarity
#
# Each training item also holds a **neighbour**: a second grid cell within ±3 steps on each axis,
# never the patch itself and never black. Its target similarity falls with the grid distance
# $(d_x, d_y)$:
#
# $$s(d_x, d_y) = g(d_x) + g(d_y), \qquad g(d) = \begin{cases} 0 & d = 3 \\ \dfrac{0.5}{d + 1} & d < 3 \end{cases}$$
#
# so a direct neighbour gets $0.5 + 0.25 = 0.75$ and the far corner $(3, 3)$ gets 0. With a step of 32
# and a patch of 128, a neighbour one step along an axis shares 75 % of its pixels with the patch;
# three steps along an axis only 25 %.

# %%
# NBVAL_CHECK_OUTPUT
table = np.full((4, 4), np.nan)  # rows d_y, columns d_x; (0, 0) is the patch itself
for (dx, dy), value in similarity_table().items():
    table[dy, dx] = value
print("target similarity s(dx, dy); rows dy = 0…3, columns dx = 0…3")
for dy in range(4):
    print("  ".join("  self" if np.isnan(v) else f"{v:6.3f}" for v in table[dy]))

# %% [markdown]
# For a cell away from the border all 48 offsets in the 7×7 block are equally likely, so most
# neighbours are far and get a low target: the average target is about 0.37.

# %%
offsets = [(dx, dy) for dx in range(-3, 4) for dy in range(-3, 4) if dx or dy]
targets = np.array([neighbour_similarity(dx, dy) for dx, dy in offsets])  # (48,)
values, counts = np.unique(targets.round(3), return_counts=True)

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
im = left.imshow(table, cmap="viridis", vmin=0, vmax=0.75)
for dy in range(4):
    for dx in range(4):
        text = "self" if np.isnan(table[dy, dx]) else f"{table[dy, dx]:.3f}"
        left.text(dx, dy, text, ha="center", va="center", color="white" if dx + dy > 1 else "black")
left.set_xlabel("$d_x$ (grid steps)")
left.set_ylabel("$d_y$ (grid steps)")
left.set_xticks(range(4))
left.set_yticks(range(4))
left.set_title("target similarity of a neighbour")
fig.colorbar(im, ax=left, shrink=0.8)
right.bar([f"{v:.3f}" for v in values], counts / counts.sum(), color="tab:blue")
right.set_xlabel("target similarity")
right.set_ylabel("share of neighbours (interior cell)")
right.set_title(f"uniform over 48 offsets: mean target {targets.mean():.2f}")
right.tick_params(axis="x", rotation=45)
fig.tight_layout()
show(fig, "similarity_targets")

# %% [markdown]
# `sample_patch_pair` draws one item's cells; the dataset then cuts the pixels. Three draws on the
# chest phantom: solid box = patch, dashed box = its neighbour, faint area = where the neighbour's
# start could have been.

# %%
generator = torch.Generator().manual_seed(0)
pairs = [sample_patch_pair(image, PATCH, STEP, generator=generator) for _ in range(3)]

fig, ax = plt.subplots(figsize=(7, 7))
ax.imshow(image, cmap="gray", vmin=0, vmax=255)
for pair, colour in zip(pairs, ["lime", "orange", "magenta"]):
    top, left = pair.pixel_start(STEP)
    n_top, n_left = pair.neighbour_pixel_start(STEP)
    reach = 3 * STEP
    ax.add_patch(Rectangle((left - reach, top - reach), 2 * reach + PATCH, 2 * reach + PATCH,
                           color=colour, alpha=0.12))
    ax.add_patch(Rectangle((left, top), PATCH, PATCH, fill=False, ec=colour, lw=2.5))
    ax.add_patch(Rectangle((n_left, n_top), PATCH, PATCH, fill=False, ec=colour, lw=2, ls="--"))
    dy, dx = pair.neighbour[0] - pair.cell[0], pair.neighbour[1] - pair.cell[1]
    ax.text(left, top - 8, f"cell {pair.cell} → {pair.neighbour}\n(dx {dx:+d}, dy {dy:+d}) target {pair.similarity:.3f}",
            color=colour, fontsize=10, va="bottom", fontweight="bold",
            bbox=dict(facecolor="black", alpha=0.6, lw=0))
ax.set_xticks([])
ax.set_yticks([])
ax.set_title("patch (solid), neighbour (dashed) and the neighbour's target")
show(fig, "neighbour_pairs")

# %% [markdown]
# ### Explore: which neighbours may a cell have?
#
# Pick a grid cell. Every allowed neighbour start is coloured by its target; cells outside the image
# or black would simply be missing. (Under the tests there is no widget frontend: the cell draws the
# default once.)

# %%
import ipywidgets as widgets
from IPython.display import display

from anomaly_lib.colab import enable_widgets

enable_widgets()  # on Colab, switch on the widget manager ipywidgets 8 needs; elsewhere a no-op


def draw_neighbourhood(row=14, col=6):
    fig, ax = plt.subplots(figsize=(6.5, 6.5))
    top, left = row * STEP, col * STEP
    ax.imshow(image, cmap="gray", vmin=0, vmax=255)
    for n_row in range(max(row - 3, 0), min(row + 3, grid.rows - 1) + 1):
        for n_col in range(max(col - 3, 0), min(col + 3, grid.cols - 1) + 1):
            if (n_row, n_col) == (row, col):
                continue
            target = neighbour_similarity(n_col - col, n_row - row)
            # one STEP×STEP tile per allowed neighbour start, coloured by its target
            ax.add_patch(Rectangle((n_col * STEP, n_row * STEP), STEP, STEP, ec="k", lw=0.5,
                                   fc=plt.cm.viridis(target / 0.75), alpha=0.8))
            ax.text(n_col * STEP + STEP / 2, n_row * STEP + STEP / 2, f"{target:.2f}", fontsize=8,
                    ha="center", va="center", color="white" if target < 0.4 else "black")
    ax.add_patch(Rectangle((left, top), PATCH, PATCH, fill=False, ec="red", lw=2.5))
    ax.add_patch(Rectangle((left, top), STEP, STEP, fill=False, ec="red", lw=2.5))
    view_size = 8 * STEP + PATCH  # the ±3-step block, the patch and a margin, kept inside the image
    x0 = min(max(left - 4 * STEP, 0), SIZE - view_size)
    y0 = min(max(top - 4 * STEP, 0), SIZE - view_size)
    ax.set_xlim(x0, x0 + view_size)
    ax.set_ylim(y0 + view_size, y0)
    ax.set_title(f"cell ({row}, {col}): its patch (red box; small box = its start)\n"
                 "tiles: where a neighbour may start, with its target", fontsize=11)
    ax.set_xticks([])
    ax.set_yticks([])
    show(fig, "neighbourhood")


row_slider = widgets.IntSlider(value=14, min=0, max=grid.rows - 1, description="row")
col_slider = widgets.IntSlider(value=6, min=0, max=grid.cols - 1, description="col")
neighbourhood_out = widgets.Output()


def update_neighbourhood(change=None):
    neighbourhood_out.clear_output(wait=True)
    with neighbourhood_out:
        draw_neighbourhood(row_slider.value, col_slider.value)


row_slider.observe(update_neighbourhood, names="value")
col_slider.observe(update_neighbourhood, names="value")
display(widgets.HBox([row_slider, col_slider]), neighbourhood_out)
update_neighbourhood()  # the default view, also drawn where no widget frontend runs

# %% [markdown]
# ## The augmentations, one by one
#
# A training item's two views are made by the same random recipe, drawn independently. The chest
# recipe of the authors:
#
# | step | setting | applied with probability |
# | --- | --- | --- |
# | ColorJitter | brightness 0.4 and contrast 0.4, i.e. factors in [0.6, 1.4] | 0.8 |
# | Gaussian blur | σ drawn from [0.1, 2] (kernel 13) | 0.1 |
# | Solarisation | pixels ≥ 128 are inverted | 0.2 |
# | to float, grey → 3 channels | [0, 255] → [0, 1] | always |
# | Normalise | mean 0.5, std 0.5: [0, 1] → [−1, 1] | always |
#
# The kit's pipeline, printed from the library:

# %%
chest_augment = augmentation(CHEST)  # uint8 (1, p, p) → float (3, p, p)
print(chest_augment)

# %% [markdown]
# Let us take a patch that holds part of the lesion and some of its surroundings (the grid cell with
# the most contrast among those 15–50 % covered by the lesion), and apply each step *on its own,
# always on*, with the settings read from the pipeline above.

# %%
all_windows = window_view(images, grid)[0, :, :, 0]  # (rows, cols, p, p)
lesion_share = window_view(torch.from_numpy(lesion)[None, None].float(), grid)[0, :, :, 0].mean(dim=(-1, -2))  # (rows, cols)
contrast = all_windows.std(dim=(-1, -2)) * ((lesion_share > 0.15) & (lesion_share < 0.5))  # (rows, cols)
cell = tuple(int(c) for c in np.unravel_index(int(contrast.argmax()), grid.shape))
top, left = cell[0] * STEP, cell[1] * STEP
patch = image[None, top : top + PATCH, left : left + PATCH]  # (1, 128, 128) uint8
print(f"patch at cell {cell}: {float(lesion_share[cell]):.0%} lesion pixels, "
      f"grey values {int(patch.min())}…{int(patch.max())}")

jitter = chest_augment.transforms[0].transforms[0]  # ColorJitter inside RandomApply(p=0.8)
blur_sigma = chest_augment.transforms[1].transforms[0].sigma  # [0.1, 2.0]
solarize = chest_augment.transforms[2]  # RandomSolarize(threshold=128, p=0.2)

from torchvision.transforms import v2  # only to switch single steps on for display

torch.manual_seed(0)
steps = {
    "patch": patch,
    "inverted (view 2's source)": invert(patch),
    "ColorJitter draw 1": jitter(patch),
    "ColorJitter draw 2": jitter(patch),
    f"blur σ={blur_sigma[0]}": v2.GaussianBlur(BLUR_KERNEL, sigma=blur_sigma[0])(patch),
    f"blur σ={blur_sigma[1]}": v2.GaussianBlur(BLUR_KERNEL, sigma=blur_sigma[1])(patch),
    f"solarise (≥ {solarize.threshold})": v2.RandomSolarize(threshold=solarize.threshold, p=1.0)(patch),
    "solarise the inverted": v2.RandomSolarize(threshold=solarize.threshold, p=1.0)(invert(patch)),
}
fig, axes = plt.subplots(2, 4, figsize=(12, 6.8), layout="constrained")
for ax, (title, picture) in zip(axes.flat, steps.items()):
    ax.imshow(picture[0], cmap="gray", vmin=0, vmax=255)
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle("each step of the chest recipe on its own (uint8 patch, 128×128)")
show(fig, "augment_steps")

# %% [markdown]
# What to notice:
#
# - ColorJitter rescales brightness and contrast by factors in [0.6, 1.4]: the same anatomy at a
#   different exposure.
# - Blur at σ = 0.1 changes nothing visible; at σ = 2 fine texture (noise, thin vessels) is gone.
# - Solarisation inverts only the pixels at or above 128. Radiograph patches are mostly darker, so it
#   touches the bright tissue only; on the *inverted* patch, which is mostly bright, it flips most
#   pixels back. So now and then view 2 is partly "un-inverted", one more reason the network cannot
#   rely on plain intensity.

# %% [markdown]
# Then the last two steps turn the uint8 patch into the network's input: three identical channels in
# $[-1, 1]$, since $x_{[-1,1]} = (x_{[0,1]} - 0.5) / 0.5 = 2 x_{[0,1]} - 1$.

# %%
view = chest_augment(patch)  # (3, 128, 128) float
print("view", tuple(view.shape), view.dtype, f"range [{view.min():.2f}, {view.max():.2f}]",
      "| channels identical:", bool(torch.equal(view[0], view[1]) and torch.equal(view[1], view[2])))

# %% [markdown]
# ## The two views of a training item
#
# View 1 is `augment(patch)`; view 2 is `augment(255 − patch)`, the augmented **inverted** patch. The
# dataset makes both (and the neighbour) in one call; below are eight independent draws of each.

# %%
images_set = ImageSet(paths=[Path("chest_phantom.png")], labels=[1], size=(SIZE, SIZE), pixels=image[None])
patches = SWSSLDataset(images_set, patch=True, patch_size=PATCH, step_size=STEP, category="chest")
view1, view2, neighbour, similarity = patches[0]
print("view1", tuple(view1.shape), "| view2", tuple(view2.shape), "| neighbour", tuple(neighbour.shape),
      "| similarity", round(float(similarity), 3))

torch.manual_seed(1)
n_draws = 8
fig, axes = plt.subplots(2, n_draws, figsize=(1.6 * n_draws, 3.8))
for k in range(n_draws):
    for row, source in enumerate([patch, invert(patch)]):
        picture = chest_augment(source)[0]  # (128, 128) in [-1, 1]
        axes[row, k].imshow(picture, cmap="gray", vmin=-1, vmax=1)
        axes[row, k].set_xticks([])
        axes[row, k].set_yticks([])
axes[0, 0].set_ylabel("view 1")
axes[1, 0].set_ylabel("view 2\n(inverted)")
fig.suptitle("eight random draws of the chest recipe (shown on the [−1, 1] scale)")
fig.tight_layout()
show(fig, "two_views")

# %% [markdown]
# ## The DBT recipe
#
# For breast tomosynthesis the authors blur **every** view (p = 1, σ in [0.1, 2]), never solarise,
# and normalise with the ImageNet mean and std per channel, so the input range differs per channel and
# is not [−1, 1].

# %%
dbt_augment = augmentation(DBT)
print(dbt_augment)
dbt_cell = (14, 4)  # a cell inside the breast
dbt_patch = dbt_image[None, dbt_cell[0] * STEP : dbt_cell[0] * STEP + PATCH, dbt_cell[1] * STEP : dbt_cell[1] * STEP + PATCH]
dbt_view = dbt_augment(dbt_patch)  # (3, 128, 128)
for channel in range(3):
    print(f"channel {channel}: range [{dbt_view[channel].min():.2f}, {dbt_view[channel].max():.2f}]")

# channel 0 spans (0 − mean) / std … (1 − mean) / std; every panel uses that one grey scale
low, high = (0 - DBT.mean[0]) / DBT.std[0], (1 - DBT.mean[0]) / DBT.std[0]
torch.manual_seed(2)
fig, axes = plt.subplots(2, 5, figsize=(10, 4.2))
for k in range(5):
    for row, source in enumerate([dbt_patch, invert(dbt_patch)]):
        picture = dbt_augment(source)[0]  # channel 0 (ImageNet "red" statistics)
        axes[row, k].imshow(picture, cmap="gray", vmin=low, vmax=high)
        axes[row, k].set_xticks([])
        axes[row, k].set_yticks([])
axes[0, 0].set_ylabel("view 1")
axes[1, 0].set_ylabel("view 2\n(inverted)")
fig.suptitle(f"DBT recipe: always blurred, never solarised (channel 0, scale {low:.2f} … {high:.2f})")
fig.tight_layout()
show(fig, "dbt_views")

# %% [markdown]
# ## Why inversion helps and resizing hurts
#
# The loss (notebook 08) asks the two views to share one representation. Whatever the augmentations
# change, the network must learn to *ignore*.
#
# - **Inversion** flips every intensity but keeps every edge, shape and texture in place. To match a
#   patch with its negative, the network cannot lean on absolute brightness or on a global grey
#   level; it has to encode structure: the outline of a rib, the branching of vessels, a round
#   opacity. Those are what change when a lesion appears. It is also a very *hard* positive pair,
#   much harder than mild jitter, which keeps the self-supervised task from being solved trivially.
# - **Resizing** (random resized crops, standard in natural-image self-supervision) teaches the
#   network to ignore *scale*. In a radiograph, scale carries meaning: a 5 mm vessel and a 2 cm
#   nodule can look alike up to size. At test time the windows are never resized, so scale
#   invariance buys nothing and throws information away.
# - **The neighbour term** teaches the network that nearby patches look alike *in proportion* to
#   their overlap, a notion of anatomy that the two views alone do not give.
#
# The authors noted these chest AUCs (%, pediatric chest X-ray test set) in their run script
# (`run_chest.sh` of their repository), one line per variant:

# %%
ablation = {
    "full model": 89.08,
    "random sampling": 89.79,
    "without the neighbour term": 84.57,
    "without the inverted view": 81.02,
    "with resizing augmentation": 80.04,
}
fig, ax = plt.subplots(figsize=(8, 3.6))
names = list(ablation)
bars = ax.barh(names, list(ablation.values()), color=["tab:green", "tab:green", "tab:orange", "tab:red", "tab:red"])
ax.bar_label(bars, fmt="%.2f", padding=3)
ax.axvline(ablation["full model"], color="gray", ls="--", lw=1)
ax.set_xlim(75, 92)
ax.invert_yaxis()
ax.set_xlabel("chest AUC (%) reported by the authors")
ax.set_title("SWSSL ablations on the chest set")
fig.tight_layout()
show(fig, "ablation")

# %% [markdown]
# Reading the bars:
#
# - Removing the **inverted view** costs 8 points, and adding **resizing** costs 9: the choice of
#   augmentations matters more than anything else here.
# - Removing the **neighbour term** costs 4.5 points.
# - "Random sample", as the authors label it, scored slightly *higher* than the full model. The
#   note does not say what was sampled at random; we read it as patch positions drawn freely rather
#   than on the 32-pixel grid. Either way it is not the key ingredient, and a 0.7-point gap is within
#   what one run to the next can vary.
# - The authors' own labels, for reference: "Remove CD" (our "without the neighbour term"),
#   "Remove flip" (without the inverted view), "Original resize" (with resizing augmentation).
# - These are single runs on one test set, the authors kept the checkpoint with the best test AUC
#   (notebook 09 discusses why that is optimistic), and their note on the full model's line says it
#   is still to be rerun. Compare the gaps, not the last decimal.
#
# **Next:** notebook 08 feeds these views through the patch model and the twin loss.
