# %% [markdown]
# # 07 · SWSSL: the patch grid, neighbours and augmentations
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/anomaly-course-kit/anomaly-course-kit/blob/main/notebooks/07_swssl_sliding_windows_and_augmentations.ipynb) [![Read it rendered](https://img.shields.io/badge/read-rendered-2ea44f)](https://anomaly-course-kit.github.io/anomaly-course-kit/07_swssl_sliding_windows_and_augmentations.html)
#
# **Learning goals**
# - Explain why SWSSL (sliding-window self-supervised learning) works on *patches* of a high-resolution image instead of a shrunken image.
# - Compute the authors' window grid, `(size − patch) // step` starts per axis, and say which border it never sees.
# - Draw a training item by hand: a patch, its neighbour a few grid steps away, and the neighbour's target similarity.
# - Name every augmentation of the chest and DBT recipes, and say why the second view is the *inverted* patch.
# - Quote the authors' ablation: what inversion, the neighbour term and resizing do to the chest AUC.

# %%
# Setup: on Colab, fetch and install the kit; everywhere, report the device.
import os
import subprocess
import sys

# CPU threads: when torch's OpenMP threads wait for work they spin by default, and on a busy
# CPU (a shared laptop, a 2-core Colab) the spinning slows every small step several-fold.
# PASSIVE makes idle threads sleep. It must be set before torch is first imported (below).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("KMP_BLOCKTIME", "0")  # the same for Intel's OpenMP runtime

KIT_REPO = "anomaly-course-kit/anomaly-course-kit"
if "google.colab" in sys.modules:
    kit_dir = os.path.join("/content", KIT_REPO.split("/")[1])
    if not os.path.isdir(kit_dir):
        subprocess.run(["git", "clone", "--depth", "1", f"https://github.com/{KIT_REPO}", kit_dir], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", kit_dir], check=True)
    sys.path.insert(0, kit_dir)
    os.chdir(os.path.join(kit_dir, "notebooks"))

from anomaly_lib.colab import run_solution  # noqa: F401 (the exercises' answers, folded: notebooks/solutions/)
from anomaly_lib.device import describe_device, pick_device, smoke_mode

device = pick_device()
SMOKE = smoke_mode()  # KIT_SMOKE=1 shrinks sizes and iterations (the tests set it)
print("device:", describe_device(device), "| smoke mode" if SMOKE else "")

# %% [markdown]
# ## 1. Why patches?
#
# A pneumonia focus or a small breast mass may cover a few dozen pixels of a full-resolution scan.
# Shrink the image to the 224×224 an ImageNet network likes, and the lesion shrinks to a handful of
# pixels.
# SWSSL keeps the full resolution and works on **windows**:
#
# - **Training** (self-supervised, normal images only): cut a patch from a grid, make two
#   augmented views of it (the second one from the *inverted* patch), and teach the network to give
#   both views the same representation. A second patch nearby, the *neighbour*, should look more
#   alike the closer it is.
# - **Scoring**: slide the window over every test image and compare each window's feature with the
#   windows of the normal training images (notebook 09).
#
# SWSSL trains on images known to be normal and nothing else: no lesion annotations, no abnormal
# images; the test images are the first abnormal images it sees. (SAGAN, by contrast, is
# semi-supervised: it also trains on an unlabeled pool that contains abnormal images, notebook 01.)
# Everything below uses the kit's `swssl_lib` and the phantoms of `anomaly_lib`, which draw
# chest-radiograph-like images at any size, with a known lesion mask.

# %%
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display
from matplotlib.patches import Rectangle
from torchvision.transforms import v2

from anomaly_lib.figures import show_figure
from anomaly_lib.phantoms import draw_breast, draw_chest
from swssl_lib import (
    CHEST,
    DBT,
    ImageSet,
    SWSSLDataset,
    TrainConfig,
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
from swssl_lib.data import DEFAULT_IMAGE_SIZES
from swssl_lib.sampling import MAX_NEIGHBOUR_OFFSET

OUT = Path("outputs") / "07_swssl_sliding_windows_and_augmentations"
OUT.mkdir(parents=True, exist_ok=True)
plt.rcParams.update({"font.size": 11, "figure.dpi": 90})


def show(fig, name):
    """Save the figure as OUT/name.png and display it."""
    show_figure(fig, name, OUT)

# %% [markdown]
# ## 2. A high-resolution chest phantom
#
# The authors resize chest X-rays to a large square and cut patches on a grid. The kit's
# `TrainConfig()` holds their chest setting (image size, patch, step; printed below). We use the
# same on an abnormal chest phantom (the cell prints how long drawing it took).

# %%
PAPER = TrainConfig()  # the authors' chest setting
SIZE, PATCH, STEP = PAPER.image_size[0], PAPER.patch_size, PAPER.step_size
print(f"image {PAPER.image_size[0]}×{PAPER.image_size[1]}, patch {PATCH}×{PATCH}, step {STEP}")
started = time.perf_counter()
phantom = draw_chest(np.random.default_rng(3), SIZE, abnormal=True)
print(f"phantom drawn in {time.perf_counter() - started:.2f} s")
image = torch.from_numpy(phantom.image)  # (H, W) uint8: what the datasets hand to the sampler
lesion = phantom.lesion_mask  # (H, W) bool
print("image", tuple(image.shape), image.dtype, "| lesion pixels:", int(lesion.sum()),
      f"({lesion.mean():.2%} of the image)")

# %% [markdown]
# ## 3. The window grid
#
# Along one axis of length $L$ the authors place windows at $k \cdot \text{step}$ for
# $k = 0, \dots, n-1$ with
#
# $$n = \left\lfloor \frac{L - \text{patch}}{\text{step}} \right\rfloor .$$
#
# When $L - \text{patch}$ is a multiple of the step, the last *valid* start is $n \cdot \text{step}$
# (a window that ends exactly at the border), and it is skipped: no window ever covers the last
# strip of pixel rows and columns. The training sampler and the evaluation use the same grid.
# `swssl_lib` reproduces it by default and offers `include_last=True` for the full grid. The cell
# prints $n$, the last start used and the uncovered strip for the authors' chest and DBT sizes and
# for a small setting.

# %%
# NBVAL_CHECK_OUTPUT
for size, patch, step in [(SIZE, PATCH, STEP), (DEFAULT_IMAGE_SIZES["dbt"][1], PATCH, STEP), (256, 64, 32)]:
    n = grid_starts(size, patch, step)
    last_used = (n - 1) * step
    print(f"{size:>4} px, patch {patch}, step {step}: {n:>2} starts per axis "
          f"(0 … {last_used}); pixels {last_used + patch}…{size - 1} are in no window")
grid = WindowGrid(SIZE, SIZE, PATCH, STEP)
full = WindowGrid(SIZE, SIZE, PATCH, STEP, include_last=True)
print(f"chest {SIZE}×{SIZE}: {grid.rows}×{grid.cols} = {grid.positions} windows "
      f"(with include_last: {full.positions})")
print(f"DBT {DEFAULT_IMAGE_SIZES['dbt'][0]}×{DEFAULT_IMAGE_SIZES['dbt'][1]} (height × width):",
      WindowGrid(*DEFAULT_IMAGE_SIZES["dbt"], PATCH, STEP).shape, "windows (rows, cols)")

# %% [markdown]
# The picture: every window start as a dot, three windows outlined, and (right) a zoom on the
# bottom-right corner with the last window used, the skipped start and the strip no window covers.

# %%
fig, (ax, zoom) = plt.subplots(1, 2, figsize=(12, 6))
starts = np.array(grid.starts())  # (positions, 2): (top, left) in position order, row by row
strip = SIZE - ((grid.rows - 1) * STEP + PATCH)  # width of the border no window covers
for axis in (ax, zoom):
    axis.imshow(image, cmap="gray", vmin=0, vmax=255)
    axis.contour(lesion, levels=[0.5], colors="yellow", linewidths=1)
    axis.scatter(starts[:, 1], starts[:, 0], s=4, c="cyan")
    axis.add_patch(Rectangle((SIZE - strip, 0), strip, SIZE, color="red", alpha=0.3))
    axis.add_patch(Rectangle((0, SIZE - strip), SIZE, strip, color="red", alpha=0.3))
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
# Python loop over the window positions.

# %%
# NBVAL_CHECK_OUTPUT
images = image[None, None].float()  # (N=1, C=1, H, W)
windows = window_view(images, grid)  # (N, rows, cols, C, patch, patch)
print("images ", tuple(images.shape))
print("windows", tuple(windows.shape), "| shares memory with images:",
      windows.untyped_storage().data_ptr() == images.untyped_storage().data_ptr())
assert torch.equal(windows[0, 13, 5, 0], images[0, 0, 13 * STEP : 13 * STEP + PATCH, 5 * STEP : 5 * STEP + PATCH])

# %% [markdown]
# ## 4. Never an all-black patch
#
# Real scans have empty background: exported DBT slices are black outside the breast, and some chest
# films have black borders. A patch with no tissue teaches nothing, so the sampler only draws grid
# cells whose patch has at least one pixel above 0. Here is a breast phantom at the DBT size
# (`DEFAULT_IMAGE_SIZES["dbt"]`, height × width) with its background set to exactly 0, as in exported
# slices.
#
# The authors draw cells at random *until* one is not black, a loop that never ends on an all-black
# image. `swssl_lib` draws uniformly among the non-black cells (the same distribution) and raises a
# clear error instead.

# %%
breast = draw_breast(np.random.default_rng(1), DEFAULT_IMAGE_SIZES["dbt"], abnormal=False)
dbt_image = torch.from_numpy(breast.image * breast.organ_mask)  # (H, W) uint8, background 0
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
# ## 5. The neighbour and its target similarity
#
# Each training item also holds a **neighbour**: a second grid cell within $\pm R$ steps on each axis
# ($R$ = `MAX_NEIGHBOUR_OFFSET`, the authors' value, printed below), never the patch itself and never
# black. Its target similarity falls with the grid distance $(d_x, d_y)$:
#
# $$s(d_x, d_y) = g(d_x) + g(d_y), \qquad g(d) = \begin{cases} 0 & d = R \\ \dfrac{0.5}{d + 1} & d < R \end{cases}$$
#
# so a direct neighbour gets $0.5 + 0.25 = 0.75$ and the far corner $(R, R)$ gets 0. How many pixels a
# neighbour shares with its patch depends on the patch and the step; the cell prints it for the
# chest setting.

# %%
# NBVAL_CHECK_OUTPUT
table = np.full((MAX_NEIGHBOUR_OFFSET + 1,) * 2, np.nan)  # rows d_y, columns d_x; (0, 0) is the patch itself
for (dx, dy), value in similarity_table().items():
    table[dy, dx] = value
print(f"target similarity s(dx, dy); rows dy = 0…{MAX_NEIGHBOUR_OFFSET}, columns dx = 0…{MAX_NEIGHBOUR_OFFSET}")
for dy in range(MAX_NEIGHBOUR_OFFSET + 1):
    print("  ".join("  self" if np.isnan(v) else f"{v:6.3f}" for v in table[dy]))
assert table[0, 1] == table[1, 0] == 0.5 + 0.25 and table[-1, -1] == 0  # a direct neighbour 0.75, the far corner 0
for d in range(1, MAX_NEIGHBOUR_OFFSET + 1):
    shared = (PATCH - d * STEP) / PATCH  # a shift along one axis keeps this share of the rows (or columns)
    print(f"{d} step{'s' if d > 1 else ''} along one axis: the neighbour shares {shared:.0%} of its pixels "
          f"with the patch (patch {PATCH}, step {STEP})")

# %% [markdown]
# For a cell away from the border every offset in the $(2R+1) \times (2R+1)$ block except the centre
# is equally likely, so most neighbours are far and get a low target; the right panel's title prints
# the average target.

# %%
R = MAX_NEIGHBOUR_OFFSET
offsets = [(dx, dy) for dx in range(-R, R + 1) for dy in range(-R, R + 1) if dx or dy]
targets = np.array([neighbour_similarity(dx, dy) for dx, dy in offsets])  # (48,) for R = 3
values, counts = np.unique(targets.round(3), return_counts=True)

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
im = left.imshow(table, cmap="viridis", vmin=0, vmax=np.nanmax(table))
for dy in range(R + 1):
    for dx in range(R + 1):
        text = "self" if np.isnan(table[dy, dx]) else f"{table[dy, dx]:.3f}"
        left.text(dx, dy, text, ha="center", va="center", color="white" if dx + dy > 1 else "black")
left.set_xlabel("$d_x$ (grid steps)")
left.set_ylabel("$d_y$ (grid steps)")
left.set_xticks(range(R + 1))
left.set_yticks(range(R + 1))
left.set_title("target similarity of a neighbour")
fig.colorbar(im, ax=left, shrink=0.8)
right.bar([f"{v:.3f}" for v in values], counts / counts.sum(), color="tab:blue")
right.set_xlabel("target similarity")
right.set_ylabel("share of neighbours (interior cell)")
right.set_title(f"uniform over {len(offsets)} offsets: mean target {targets.mean():.2f}")
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
    reach = MAX_NEIGHBOUR_OFFSET * STEP
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
# Pick a grid cell. Every allowed neighbour start is coloured by its target; starts outside the grid
# are missing (the sampler would also skip black cells, which this phantom does not have). Under the
# tests there is no widget frontend: the cell draws the default once.

# %%
import ipywidgets as widgets

from IPython.display import Image

from anomaly_lib.colab import show_widget


max_target = max(similarity_table().values())  # the colour scale's top


def draw_neighbourhood(row=14, col=6):
    fig, ax = plt.subplots(figsize=(6.5, 6.5))
    top, left = row * STEP, col * STEP
    ax.imshow(image, cmap="gray", vmin=0, vmax=255)
    for n_row in range(max(row - R, 0), min(row + R, grid.rows - 1) + 1):
        for n_col in range(max(col - R, 0), min(col + R, grid.cols - 1) + 1):
            if (n_row, n_col) == (row, col):
                continue
            target = neighbour_similarity(n_col - col, n_row - row)
            # one STEP×STEP tile per allowed neighbour start, coloured by its target
            ax.add_patch(Rectangle((n_col * STEP, n_row * STEP), STEP, STEP, ec="k", lw=0.5,
                                   fc=plt.cm.viridis(target / max_target), alpha=0.8))
            ax.text(n_col * STEP + STEP / 2, n_row * STEP + STEP / 2, f"{target:.2f}", fontsize=8,
                    ha="center", va="center", color="white" if target < 0.4 else "black")
    ax.add_patch(Rectangle((left, top), PATCH, PATCH, fill=False, ec="red", lw=2.5))
    ax.add_patch(Rectangle((left, top), STEP, STEP, fill=False, ec="red", lw=2.5))
    view_size = 2 * (R + 1) * STEP + PATCH  # the ±R-step block, the patch and a margin, kept inside the image
    x0 = min(max(left - (R + 1) * STEP, 0), SIZE - view_size)
    y0 = min(max(top - (R + 1) * STEP, 0), SIZE - view_size)
    ax.set_xlim(x0, x0 + view_size)
    ax.set_ylim(y0 + view_size, y0)
    ax.set_title(f"cell ({row}, {col}): its patch (red box; small box = its start)\n"
                 "tiles: where a neighbour may start, with its target", fontsize=11)
    ax.set_xticks([])
    ax.set_yticks([])
    return fig


row_slider = widgets.IntSlider(value=14, min=0, max=grid.rows - 1, description="row")
col_slider = widgets.IntSlider(value=6, min=0, max=grid.cols - 1, description="col")
neighbourhood_out = widgets.Output()


def update_neighbourhood(change=None):
    neighbourhood_out.clear_output(wait=True)
    with neighbourhood_out:
        show(draw_neighbourhood(row_slider.value, col_slider.value), "neighbourhood")


row_slider.observe(update_neighbourhood, names="value")
col_slider.observe(update_neighbourhood, names="value")
# The default view goes into the Output widget as data, not by printing into it while this cell runs:
# capturing a running cell's output into a widget can stall automated runs (nbclient issue 312).
default_view = OUT / "neighbourhood.png"
draw_neighbourhood(row_slider.value, col_slider.value).savefig(default_view, bbox_inches="tight")
plt.close("all")
neighbourhood_out.append_display_data(Image(filename=str(default_view)))
show_widget(widgets.VBox([widgets.HBox([row_slider, col_slider]), neighbourhood_out]),
            "(the neighbour explorer: run the notebook to move its sliders)", png=default_view)

# %% [markdown]
# ## 6. The augmentations, one by one
#
# A training item's two views are made by the same random recipe, drawn independently. The kit's
# chest recipe follows the authors' description of their chest setting; it is read below from the
# kit's pipeline (`augmentation(CHEST)`), so the table shows exactly what the kit runs. It is not
# exactly the authors' published pipeline: their `utils.py` starts the views with a random resized
# crop, which the kit leaves out (printed under the table; section 9 shows what their notes say
# that crop costs).

# %%
def recipe_table(pipeline: v2.Compose) -> str:
    """A Markdown table (step, setting, probability) read from an augmentation pipeline."""
    rows = ["| step | setting | applied with probability |", "| --- | --- | --- |"]
    for step in pipeline.transforms:
        inner = step.transforms[0] if isinstance(step, v2.RandomApply) else step
        if isinstance(inner, v2.ColorJitter):
            setting = f"brightness factor in {inner.brightness}, contrast factor in {inner.contrast}"
        elif isinstance(inner, v2.GaussianBlur):
            setting = f"σ drawn from {inner.sigma}, kernel {inner.kernel_size}"
        elif isinstance(inner, v2.RandomSolarize):
            setting = f"pixels ≥ {inner.threshold} are inverted"
        elif isinstance(inner, v2.ToDtype):
            setting = "uint8 [0, 255] → float [0, 1]"
        elif isinstance(inner, v2.Grayscale):
            setting = f"grey → {inner.num_output_channels} identical channels"
        elif isinstance(inner, v2.Normalize):
            setting = f"(x − mean) / std with mean {inner.mean}, std {inner.std}"
        else:
            setting = repr(inner)
        probability = getattr(step, "p", 1.0)
        when = {1.0: "always", 0.0: "never"}.get(probability, probability)
        rows.append(f"| {type(inner).__name__} | {setting} | {when} |")
    return "\n".join(rows)


chest_augment = augmentation(CHEST)  # uint8 (1, p, p) → float (3, p, p)
display(Markdown(recipe_table(chest_augment)))
from anomaly_lib.published import SWSSL_PUBLISHED_CROP

assert not any(isinstance(step, v2.RandomResizedCrop) for step in chest_augment.transforms)
print(f"the authors' published pipeline starts with {SWSSL_PUBLISHED_CROP}; the kit's recipe has no crop or resize")

# %% [markdown]
# Let us take a patch that holds part of the lesion and some of its surroundings (the grid cell with
# the most contrast among those partly covered by the lesion), and apply each step *on its own,
# always on*, with the settings read from the pipeline above.

# %%
all_windows = window_view(images, grid)[0, :, :, 0]  # (rows, cols, p, p)
lesion_share = window_view(torch.from_numpy(lesion)[None, None].float(), grid)[0, :, :, 0].mean(dim=(-1, -2))  # (rows, cols)
contrast = all_windows.std(dim=(-1, -2)) * ((lesion_share > 0.15) & (lesion_share < 0.5))  # (rows, cols)
cell = tuple(int(c) for c in np.unravel_index(int(contrast.argmax()), grid.shape))
top, left = cell[0] * STEP, cell[1] * STEP
patch = image[None, top : top + PATCH, left : left + PATCH]  # (1, p, p) uint8
print(f"patch at cell {cell}: {float(lesion_share[cell]):.0%} lesion pixels, "
      f"grey values {int(patch.min())}…{int(patch.max())}")

jitter = chest_augment.transforms[0].transforms[0]  # ColorJitter inside RandomApply
blur_sigma = chest_augment.transforms[1].transforms[0].sigma  # [lowest, highest] σ
solarize = chest_augment.transforms[2]  # RandomSolarize(threshold, p)

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
    if title.startswith("solarise"):  # it acts only on pixels at or above the threshold: say how many
        source = patch if title.startswith("solarise (") else invert(patch)
        title += f": {(picture != source).float().mean():.0%} of pixels change"
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle(f"each step of the chest recipe on its own (uint8 patch, {PATCH}×{PATCH})")
show(fig, "augment_steps")

# %% [markdown]
# What to notice:
#
# - ColorJitter rescales brightness and contrast by random factors (their ranges are in the table):
#   the same anatomy at a different exposure.
# - Blur at the smallest σ changes nothing visible; at the largest, fine texture (noise, thin
#   vessels) is gone.
# - Solarisation inverts only the pixels at or above its threshold. Radiograph patches are mostly
#   darker, so it touches the bright tissue only; on the *inverted* patch, which is mostly bright, it
#   flips most pixels back. So now and then view 2 is partly "un-inverted", one more reason the
#   network cannot rely on plain intensity.

# %% [markdown]
# Then the last two steps turn the uint8 patch into the network's input: three identical channels in
# $[-1, 1]$, since $x_{[-1,1]} = (x_{[0,1]} - 0.5) / 0.5 = 2 x_{[0,1]} - 1$.

# %%
view = chest_augment(patch)  # (3, p, p) float
print("view", tuple(view.shape), view.dtype, f"range [{view.min():.2f}, {view.max():.2f}]",
      "| channels identical:", bool(torch.equal(view[0], view[1]) and torch.equal(view[1], view[2])))
assert view.shape[0] == 3 and torch.equal(view[0], view[1]) and torch.equal(view[1], view[2])
assert -1 <= view.min() and view.max() <= 1  # "three identical channels in [−1, 1]"

# %% [markdown]
# ## 7. The two views of a training item
#
# View 1 is `augment(patch)`; view 2 is `augment(255 − patch)`, the augmented **inverted** patch. The
# dataset makes both (and the neighbour) in one call; below are several independent draws of each.

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
        picture = chest_augment(source)[0]  # (p, p) in [-1, 1]
        axes[row, k].imshow(picture, cmap="gray", vmin=-1, vmax=1)
        axes[row, k].set_xticks([])
        axes[row, k].set_yticks([])
axes[0, 0].set_ylabel("view 1")
axes[1, 0].set_ylabel("view 2\n(inverted)")
fig.suptitle(f"{n_draws} random draws of the chest recipe (shown on the [−1, 1] scale)")
fig.tight_layout()
show(fig, "two_views")

# %% [markdown]
# Where this notebook's pieces go: one training step at the authors' setting, drawn from an
# authors'-size model on the meta device (shapes, no weights) and its window grid. Notebook 08 covers
# the network and the loss on the right.

# %%
from swssl_lib import PatchModel, TrainConfig
from swssl_lib.diagrams import training_step_diagram

authors = TrainConfig()  # the authors' image size, patch, step and backbone
with torch.device("meta"):  # shapes only: nothing is allocated or initialised
    authors_model = PatchModel(backbone=authors.backbone, pretrained=False)
authors_grid = WindowGrid(*authors.image_size, authors.patch_size, authors.step_size)
show(training_step_diagram(authors_model, authors_grid), "training_step")

# %% [markdown]
# ## 8. The DBT recipe
#
# For breast tomosynthesis the authors blur **every** view, never solarise, and normalise with the
# ImageNet mean and std per channel, so the input range differs per channel and is not [−1, 1]. The
# table is read from `augmentation(DBT)`:

# %%
dbt_augment = augmentation(DBT)
display(Markdown(recipe_table(dbt_augment)))
dbt_cell = (14, 4)  # a cell inside the breast
dbt_patch = dbt_image[None, dbt_cell[0] * STEP : dbt_cell[0] * STEP + PATCH, dbt_cell[1] * STEP : dbt_cell[1] * STEP + PATCH]
dbt_view = dbt_augment(dbt_patch)  # (3, p, p)
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
# ## 9. Why inversion helps and resizing hurts
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
# - **The neighbour term** teaches the network that nearby patches look more alike the closer they
#   are on the grid, a notion of anatomy that the two views alone do not give.
#
# The authors noted these chest AUCs (%, pediatric chest X-ray test set) in their run script
# (`run_chest.sh` of their repository, `github.com/mazurowski-lab/swssl-for-anomaly-detection`), one
# line per variant; the cell also prints each variant's gap to the full model:

# %%
from anomaly_lib.published import SWSSL_CHEST_AUC, SWSSL_RUN_NOTES, SWSSL_SHORTHAND

ablation = SWSSL_CHEST_AUC  # the one place the course keeps these numbers, with their source
full = ablation["full model"]
rows = ["| variant | label in their notes | chest AUC (%) | gap to the full model |", "|---|---|---|---|"]
rows += [f"| {name} | {SWSSL_SHORTHAND.get(name, '–')!s} | {auc:.2f} | {auc - full:+.2f} |" for name, auc in ablation.items()]
display(Markdown("\n".join(rows) + f"\n\nsource: {SWSSL_RUN_NOTES}"))
gaps = {name: auc - full for name, auc in ablation.items() if name != "full model"}
costliest = sorted(gaps, key=gaps.get)[:2]  # the two largest drops

# %% [markdown]
# Reading the table (the sentences below are printed from the gaps, so they follow the numbers):

# %%
print(f"- the two largest drops: {costliest[0]} ({gaps[costliest[0]]:+.2f}) and {costliest[1]} "
      f"({gaps[costliest[1]]:+.2f}), both about the views")
print(f"- without neighbour term: {gaps['without neighbour term']:+.2f}, "
      f"{gaps['without neighbour term'] / gaps[costliest[0]]:.0%} of the largest drop")
print(f"- random sampling: {gaps['random sampling']:+.2f}, above the full model by less than one point")
assert set(costliest) == {"without inverted view", "with resizing augmentation"}
assert sorted(gaps, key=gaps.get)[2] == "without neighbour term"  # the summary ranks it third
assert 0 < gaps["random sampling"] < 1

# %% [markdown]
# - The labels in the second column are the authors' shorthand in their run notes, quoted as they
#   wrote them; the notes do not define them. "Remove CD" is the run without the neighbour term
#   as far as the kit can tell, and what "Random sample" drew at random the note does not say.
# - These are single runs on one test set, the authors kept the checkpoint with the best test AUC
#   (notebook 09 discusses why that is optimistic), and their note on the full model's line says it
#   is still to be rerun. A gap below one point, like random sampling's, is within what one run to
#   the next can vary: compare the large gaps, not the last decimal.
#
# ## Summary
# - SWSSL works on windows of the full-resolution image, on a grid of $\lfloor (L - p)/s \rfloor$
#   starts per axis; the last valid start is skipped, so a border strip is never seen.
# - A training item is a non-black grid patch, its augmented and its augmented **inverted** view,
#   and a neighbour within $\pm R$ grid steps whose target similarity falls with the distance.
# - The chest recipe jitters, sometimes blurs and solarises, then normalises; the DBT recipe always
#   blurs and never solarises. Both are printed from the pipelines, not typed.
# - The kit's chest recipe leaves out the random resized crop that starts the authors' published
#   pipeline. Their run notes (single runs, selected on the test set) rank the inverted view and
#   the absence of resizing first, the neighbour term after them.
#
# **Next:** notebook 08 feeds these views through the patch model and the twin loss.

# %% [markdown]
# ## 10. Exercises
#
# ### Exercise 1 · Count the windows
#
# Predict, then run. For each setting below, how many window starts does one axis get, how many
# window positions does a square image give, and how wide is the border strip that no window covers?
#
# - a 768-pixel image, patch 64, step 16;
# - a 1000-pixel image with the chest patch and step (note that 1000 − patch is not a multiple of the
#   step);
# - the chest setting with `include_last=True`.
#
# Write your numbers down first; the solution asks `grid_starts` and `WindowGrid`.

# %% cellView="form" jupyter={"source_hidden": true} tags=["solution"]
# @title Solution to exercise 1 (run it: the answer stays folded until you open it)
run_solution("07", 1)

# %% [markdown]
# ### Exercise 2 · Target similarity versus shared pixels
#
# The target says how alike a neighbour should look. Compare it with the share of pixels the
# neighbour actually has in common with the patch, $\max(0, p - d_x s)\,\max(0, p - d_y s) / p^2$,
# for every offset in the chest setting. Before running: do two offsets with the same target always
# share the same number of pixels? Which offset does the target rate most differently from the
# overlap?

# %% cellView="form" jupyter={"source_hidden": true} tags=["solution"]
# @title Solution to exercise 2 (run it: the answer stays folded until you open it)
run_solution("07", 2)

# %% [markdown]
# ### Exercise 3 · Why the *inverted* patch?
#
# Suppose view 2 were just a second augmented copy of the patch (no inversion). What could the
# network then use to match the two views that it cannot use with inversion? And why might
# solarisation of the inverted patch matter for that argument?
#
# <details><summary>Solution</summary>
#
# With two jittered copies, both views keep the same bright and dark regions, so matching them by
# mean intensity, histogram or the grey level of a region is enough: the network can solve the task
# with features that ignore shape, and such features say little about a small lesion. Inversion
# maps every grey level $v$ to $255 - v$ while keeping every edge, outline and texture in place, so
# the only things the two views share are structural; the network has to encode those. Solarisation
# flips the pixels above a threshold back, so an inverted view is sometimes partly "un-inverted": the
# relation between the views' intensities is not even a fixed rule, which removes the last shortcut
# (learning to undo the inversion). The authors' notes put the cost of dropping the inversion at
# several AUC points (section 9).
#
# </details>

# %% [markdown]
# ### Exercise 4 · Where do neighbours look most alike?
#
# For a cell near the border, some of its $\pm R$ neighbours fall outside the grid. Predict: is the
# *average* target of a cell's allowed neighbours higher in the middle of the image or near the
# border, and where exactly is it highest? Then compute it for every cell of the chest grid (ignore
# black cells) and draw the map.

# %% cellView="form" jupyter={"source_hidden": true} tags=["solution"]
# @title Solution to exercise 4 (run it: the answer stays folded until you open it)
run_solution("07", 4)
