# %% [markdown]
# # 01 · Data and synthetic anomalies
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/anomaly-course-kit/anomaly-course-kit/blob/main/notebooks/01_data_and_synthetic_anomalies.ipynb) [![Read it rendered](https://img.shields.io/badge/read-rendered-2ea44f)](https://anomaly-course-kit.github.io/anomaly-course-kit/01_data_and_synthetic_anomalies.html)
#
# **Learning goals**
# - Read the Med-AD benchmark layout (`images/` + `data.json`) that SAGAN trains on, here filled with phantoms.
# - Follow an image from a PNG file to a `(1, 64, 64)` tensor in $[-1, 1]$, and say why that range.
# - Build SAGAN's *unlabeled* training set exactly as the authors do (abnormal share `ar`) and pair it with the normals.
# - Draw one synthetic anomaly step by step: core region, centre, half-width, alpha, source image, mask.
# - Explore how the parameters change the anomalies with an interactive widget.

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

# %%
import io
import json
from functools import partial
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Image, Markdown, display
from matplotlib.patches import Rectangle

from anomaly_lib.figures import show_figure
from sagan_lib.config import SaganConfig

CONFIG = SaganConfig()  # the authors' settings; this notebook uses ar and core_percent
OUT = Path("outputs") / "01_data_and_synthetic_anomalies"
OUT.mkdir(parents=True, exist_ok=True)

show = partial(show_figure, folder=OUT)  # show(fig, name): save OUT/name.png and display it

def clean_axes(axes):
    for ax in np.atleast_1d(axes).flat:
        ax.set_xticks([])
        ax.set_yticks([])


# %% [markdown]
# ## 1. The Med-AD layout
#
# SAGAN was evaluated on the Med-AD benchmark: RSNA and VinDr-CXR chest X-rays and LAG fundus
# photographs. Each dataset is one folder with all images in `images/` and a `data.json` that
# says which file belongs to which split:
#
# ```text
# RSNA/
#   images/            every image of every split, as PNG/JPG files
#   data.json          {"train": {"0": [...],                      labeled normal
#                                 "unlabeled": {"0": [...],        unlabeled, actually normal
#                                               "1": [...]}},      unlabeled, actually abnormal
#                       "test":  {"0": [...], "1": [...]}}          test normal / test abnormal
# ```
#
# `"0"` means normal and `"1"` abnormal. The "unlabeled" images are split by their hidden labels
# in the file, but the model never sees those labels: it gets them as one anonymous pool.
#
# `make_phantom_dataset` writes exactly this layout with phantom chest images (plus a `masks/`
# folder with the lesion masks of the abnormal images, which real data lacks).

# %%
from anomaly_lib.layouts import read_medad
from anomaly_lib.phantoms import make_phantom_dataset

if SMOKE:
    counts = {"train_normal": 24, "unlabeled_normal": 10, "unlabeled_abnormal": 14, "test_normal": 4, "test_abnormal": 4}
else:
    counts = {"train_normal": 100, "unlabeled_normal": 60, "unlabeled_abnormal": 60, "test_normal": 50, "test_abnormal": 50}
DATA = make_phantom_dataset(OUT / "medad", layout="medad", image_size=128, counts=counts, seed=0)

for entry in sorted(DATA.iterdir()):
    kind = f"{len(list(entry.iterdir()))} files" if entry.is_dir() else f"{entry.stat().st_size} bytes"
    print(f"{entry.name + ('/' if entry.is_dir() else ''):<24} {kind}")


# %% [markdown]
# The JSON file, with each list cut to its first two names:

# %%
def abbreviate(value, keep=2):
    """Shorten every list in a nested dict to its first `keep` items plus a count."""
    if isinstance(value, dict):
        return {key: abbreviate(item, keep) for key, item in value.items()}
    if isinstance(value, list) and len(value) > keep:
        return value[:keep] + [f"... and {len(value) - keep} more"]
    return value


print(json.dumps(abbreviate(json.loads((DATA / "data.json").read_text())), indent=2))

# %% [markdown]
# `read_medad` turns the JSON into one list of full paths per split, named the way the rest of
# the kit names them:

# %%
splits = read_medad(DATA)
for split, paths in splits.items():
    print(f"{split:<20} {len(paths):>4} images, e.g. {paths[0].relative_to(DATA)}")

# %% [markdown]
# ## 2. From a file to a tensor in $[-1, 1]$
#
# The authors apply the same three transforms to every image, for training and testing:
#
# 1. `Resize((64, 64))`: bilinear, on the grey (`L`) image;
# 2. `ToTensor()`: uint8 $\{0, \dots, 255\}$ → float $[0, 1]$, shape `(1, 64, 64)`;
# 3. `Normalize((0.5,), (0.5,))`: $[0, 1]$ → $[-1, 1]$.
#
# Steps 2 and 3 together are one affine map,
#
# $$ x_{[-1,1]} = \frac{x_{\text{raw}}/255 - 0.5}{0.5} = \frac{2\,x_{\text{raw}}}{255} - 1 , $$
#
# which the kit computes in `sagan_lib.data.to_model_range`. Why $[-1, 1]$? The generator ends in
# $\tanh$, whose outputs lie in $(-1, 1)$, so inputs and reconstructions live on the same scale and
# can be subtracted directly. The kit loads each file once (`load_grayscale`, PIL's bilinear
# resize, kept as uint8 to save memory) and converts to $[-1, 1]$ only when a batch is built.

# %%
from anomaly_lib.images import load_grayscale
from sagan_lib.data import to_model_range

paths = splits["train_normal"][:8]
raw_128 = load_grayscale(paths[:1], 128, progress=False)[0]  # the file as stored: (128, 128) uint8
images_uint8 = torch.from_numpy(load_grayscale(paths, 64, progress=False))  # (8, 64, 64) uint8
images = to_model_range(images_uint8)  # (8, 64, 64) float32 in [-1, 1]
print("stored file :", raw_128.shape, raw_128.dtype)
print("loaded      :", tuple(images_uint8.shape), images_uint8.dtype, f"[{images_uint8.min()}, {images_uint8.max()}]")
print("model range :", tuple(images.shape), images.dtype, f"[{images.min():.3f}, {images.max():.3f}]")

# %% [markdown]
# The kit's path gives exactly the numbers of the authors' torchvision pipeline:

# %%
# NBVAL_CHECK_OUTPUT
import PIL.Image
from torchvision import transforms

authors_transform = transforms.Compose(
    [transforms.Resize((64, 64)), transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))]
)
authors = torch.stack([authors_transform(PIL.Image.open(path).convert("L")) for path in paths])  # (8, 1, 64, 64)
print("authors' pipeline:", tuple(authors.shape))
print("identical to the kit's:", torch.equal(authors[:, 0], images))
assert torch.equal(authors[:, 0], images)

# %%
fig, axes = plt.subplots(1, 4, figsize=(15, 3.4), layout="constrained", width_ratios=[1, 1, 1.6, 1.6])
axes[0].imshow(raw_128, cmap="gray", vmin=0, vmax=255)
axes[0].set_title("file: 128×128, uint8")
axes[1].imshow(images[0], cmap="gray", vmin=-1, vmax=1)
axes[1].set_title("model input: 64×64, [-1, 1]")
clean_axes(axes[:2])
axes[2].hist(images_uint8.flatten().numpy(), bins=64, range=(0, 255), color="tab:blue")
axes[2].set_title("pixel values after Resize (uint8)")
axes[2].set_xlim(0, 255)
axes[3].hist(images.flatten().numpy(), bins=64, range=(-1, 1), color="tab:orange")
axes[3].set_title("after ToTensor + Normalize")
axes[3].set_xlim(-1, 1)
for ax in axes[2:]:
    ax.set_ylabel("pixels")
show(fig, "transforms")

# %% [markdown]
# The histogram keeps its shape; only the axis changes. The dark peak is the air-filled lungs and
# the background, the bright one the soft tissue.

# %% [markdown]
# ## 3. The unlabeled mix
#
# SAGAN is *semi-supervised*: besides $N$ labeled normals it trains on an unlabeled pool that
# contains abnormal images. The authors build that pool from the hidden labels in a fixed way,
# with an abnormal ratio `ar` (0.6 in their code; `SaganConfig().ar`, printed below):
#
# $$ \text{unlabeled} = \underbrace{\text{abnormal}[\,:\lfloor N\cdot ar\rfloor\,]}_{\text{first } \lfloor N\cdot ar \rfloor}
#    \;+\; \underbrace{\text{normal}[\,:N-\lfloor N\cdot ar\rfloor\,]}_{\text{first } N-\lfloor N \cdot ar\rfloor} $$
#
# so the pool has exactly $N$ images, the same as the labeled normals, and **training item $i$
# pairs unlabeled image $i$ with labeled normal $i$**. The first $\lfloor N\cdot ar\rfloor$ images of
# the pool are abnormal, the rest normal (the loader shuffles items, so order does not matter for
# training).

# %%
from sagan_lib.data import unlabeled_mix

unlabeled = unlabeled_mix(splits, ar=CONFIG.ar)
n_normals = len(splits["train_normal"])
n_abnormal = int(n_normals * CONFIG.ar)
print(f"ar = {CONFIG.ar}, N = {n_normals} labeled normals → {n_abnormal} abnormal + {n_normals - n_abnormal} normal unlabeled images")
print("first:", unlabeled[0].name, "| last abnormal:", unlabeled[n_abnormal - 1].name, "| first normal:", unlabeled[n_abnormal].name)


# %% [markdown]
# On the real datasets (split sizes from the benchmark: train normal / unlabeled normal +
# abnormal / test normal + abnormal) the same rule uses these many images; computed here with the
# same function on lists of placeholder names:

# %%
real_sizes = {  # train normal, unlabeled normal, unlabeled abnormal, test normal, test abnormal
    "RSNA": (3851, 4000, 5012, 1000, 1000),
    "VinDr-CXR": (4000, 5606, 3394, 1000, 1000),
    "LAG": (1500, 832, 900, 811, 811),
}
rows = ["| dataset | N labeled normals | unlabeled available (normal + abnormal) | unlabeled used: abnormal + normal |", "|---|---:|---:|---:|"]
for name, (train_n, unl_n, unl_a, _, _) in real_sizes.items():
    fake = {
        "train_normal": [f"n{i}" for i in range(train_n)],
        "unlabeled_normal": [f"un{i}" for i in range(unl_n)],
        "unlabeled_abnormal": [f"ua{i}" for i in range(unl_a)],
    }
    used = unlabeled_mix(fake, ar=CONFIG.ar)
    used_abnormal = sum(item.startswith("ua") for item in used)
    rows.append(f"| {name} | {train_n} | {unl_n} + {unl_a} | {used_abnormal} + {len(used) - used_abnormal} |")
display(Markdown("\n".join(rows)))

# %% [markdown]
# `MedADTrainSet` loads everything once and returns, for item $i$, four tensors of shape
# `(1, 64, 64)`: the unlabeled image $i$, the labeled normal $i$, a synthetic anomaly made from
# normal $i$ (section 4) and its mask.

# %%
# NBVAL_CHECK_OUTPUT
from sagan_lib.data import MedADTrainSet

train_set = MedADTrainSet(DATA, image_size=64, ar=CONFIG.ar, core_percent=CONFIG.core_percent, progress=False)
unlabeled_0, normal_0, anomaly_0, mask_0 = train_set[0]
for name, tensor in [("unlabeled", unlabeled_0), ("normal", normal_0), ("anomaly", anomaly_0), ("mask", mask_0)]:
    print(f"{name:<10} {tuple(tensor.shape)} {tensor.dtype}")

# %%
lesion_dir = DATA / "masks"
picks = [0, 1, n_abnormal - 1, n_abnormal, n_abnormal + 1, len(train_set) - 1]
fig, axes = plt.subplots(2, len(picks), figsize=(2.3 * len(picks), 5.2), layout="constrained")
for column, i in enumerate(picks):
    path = train_set.unlabeled_paths[i]
    is_abnormal = i < n_abnormal
    axes[0, column].imshow(train_set.unlabeled[i], cmap="gray", vmin=0, vmax=255)
    if is_abnormal:  # the lesion mask, which the model never sees
        lesion = load_grayscale([lesion_dir / path.name], 64, progress=False)[0] > 127
        axes[0, column].contour(lesion, levels=[0.5], colors="red", linewidths=1)
    axes[0, column].set_title(f"unlabeled {i}\n({'abnormal' if is_abnormal else 'normal'})", fontsize=10,
                              color="red" if is_abnormal else "black")
    axes[1, column].imshow(train_set.normals[i], cmap="gray", vmin=0, vmax=255)
    axes[1, column].set_title(f"labeled normal {i}", fontsize=10)
clean_axes(axes)
axes[0, 0].set_ylabel("unlabeled pool")
axes[1, 0].set_ylabel("labeled normals")
fig.suptitle(f"Item i pairs unlabeled i with normal i; the first {n_abnormal} unlabeled images are abnormal "
             "(red outline: lesion, hidden from the model)", fontsize=11)
show(fig, "unlabeled_mix")

# %% [markdown]
# ## 4. SAGAN's synthetic anomaly, step by step
#
# The unlabeled pool tells the generator nothing about *which* images are abnormal. To teach it
# explicitly to remove lesions, every training step fakes one: a square from **another** normal
# image is blended into normal $i$, and the generator must turn the result back into normal $i$
# (a mean-squared-error loss, notebook 04). For an $H \times W$ image and `core_percent` $= c$:
#
# 1. **Core region.** The box centre is drawn uniformly inside the central $c$ of each axis:
#    `offset` $= \tfrac{1-c}{2}\cdot$side, centre $\sim$ `randint(offset, offset + c·side)`.
#    The authors use $c = 0.6$ (`SaganConfig().core_percent`), so centres avoid the outer 20 % on
#    each side (where the body ends).
# 2. **Half-width.** $h \sim$ `randint(round(0.05 W), round(0.2 W))`, upper end exclusive (the
#    range at 64×64 is printed below).
# 3. **Box.** Rows and columns from centre $- h$ up to, but not including, centre $+ h$: a square
#    of side $2h$, clipped to the image.
# 4. **Alpha.** One $\alpha \sim U(0, 1)$ per image: from a barely visible ghost to a full paste.
# 5. **Source.** Another labeled normal, drawn at random and **never image $i$ itself**: pasting
#    a piece of the same image at the same place would change nothing.
# 6. **Blend.** With $M = \alpha$ inside the box and $0$ outside,
#
# $$ \tilde{x} = (1 - M)\odot x + M \odot s , $$
#
#    and the returned mask is $M > 0$ (the box).
#
# Why does this help? The pasted square is *realistic tissue in the wrong place*: ribs where lungs
# should be, an edge across a lobe. Removing it forces the generator to know where normal anatomy
# belongs, which is exactly what it needs to remove real lesions.
#
# `sagan_lib.synthetic_anomaly` does all this for a whole batch at once with `pick_sources` and
# `paste_anomalies`. Both take a `torch.Generator`, so a fixed seed gives the same anomaly every
# time. The draws happen inside the library; we read the box and alpha back from what it returns.

# %%
from sagan_lib.synthetic_anomaly import paste_anomalies, pick_sources

all_normals = to_model_range(train_set.normals).unsqueeze(1)  # (N, 1, 64, 64) in [-1, 1]


def make_anomaly(index, seed, core_percent=CONFIG.core_percent):
    """One synthetic anomaly from normal `index`: a dict with the images, the source and the mask."""
    generator = torch.Generator().manual_seed(seed)
    source_index = pick_sources(torch.tensor([index]), len(all_normals), generator)  # (1,), never == index
    normal, source = all_normals[[index]], all_normals[source_index]  # (1, 1, 64, 64) each
    anomaly, mask = paste_anomalies(normal, source, core_percent, generator)  # (1, 1, 64, 64), bool mask
    return dict(index=index, source_index=int(source_index), normal=normal[0, 0], source=source[0, 0],
                anomaly=anomaly[0, 0], mask=mask[0, 0])


def drawn_box(sample):
    """Read the box and alpha back from the returned mask and images."""
    mask = sample["mask"]
    rows = torch.nonzero(mask.any(dim=1)).flatten()
    cols = torch.nonzero(mask.any(dim=0)).flatten()
    top, bottom, left, right = int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])  # inclusive
    # inside the box, anomaly - normal = alpha · (source - normal)
    change = sample["anomaly"] - sample["normal"]
    gap = sample["source"] - sample["normal"]
    usable = mask & (gap.abs() > 0.05)  # pixels where source and normal differ enough to divide
    if not usable.any():
        usable = mask & (gap != 0)
    alpha = float((change[usable] / gap[usable]).median())
    return dict(top=top, bottom=bottom, left=left, right=right, alpha=alpha,
                centre=((top + bottom + 1) / 2, (left + right + 1) / 2),
                half_width=((bottom - top + 1) / 2, (right - left + 1) / 2))


sample = make_anomaly(index=0, seed=3)
box = drawn_box(sample)
H, W = sample["normal"].shape
core_percent = CONFIG.core_percent
offset = (1 - core_percent) / 2 * H
h_low, h_high = round(0.05 * W), round(0.2 * W)  # half-widths are drawn from [h_low, h_high)
print(f"normal {sample['index']}, source {sample['source_index']} (never the same image)")
print(f"core region: centres drawn from [{int(offset)}, {int(offset + core_percent * H)}) on each axis")
print(f"half-width range: [{h_low}, {h_high}) pixels → boxes {2 * h_low} to {2 * (h_high - 1)} pixels wide")
print(f"drawn box: rows {box['top']}–{box['bottom']}, columns {box['left']}–{box['right']} → "
      f"centre (row, col) = {box['centre']}, half-width {box['half_width'][0]:g}")
print(f"alpha read back from the pixels: {box['alpha']:.3f}")

# %%
fig, axes = plt.subplots(1, 6, figsize=(16.5, 3.4), layout="constrained")
normal, source, anomaly, mask = sample["normal"], sample["source"], sample["anomaly"], sample["mask"]
box_xy = (box["left"] - 0.5, box["top"] - 0.5)
box_size = (box["right"] - box["left"] + 1, box["bottom"] - box["top"] + 1)

axes[0].imshow(normal, cmap="gray", vmin=-1, vmax=1)
axes[0].add_patch(Rectangle((offset - 0.5, offset - 0.5), core_percent * W, core_percent * H,
                            fill=False, ls="--", lw=1.5, ec="yellow"))
axes[0].plot(box["centre"][1] - 0.5, box["centre"][0] - 0.5, "r+", ms=12, mew=2)
axes[0].set_title("1. core region (yellow)\n+ drawn centre")
axes[1].imshow(normal, cmap="gray", vmin=-1, vmax=1)
axes[1].add_patch(Rectangle(box_xy, *box_size, fill=False, lw=1.5, ec="red"))
axes[1].set_title(f"2–3. half-width {box['half_width'][0]:g}\n→ box {box_size[0]}×{box_size[1]}")
alpha_map = axes[2].imshow(mask * box["alpha"], cmap="magma", vmin=0, vmax=1)
fig.colorbar(alpha_map, ax=axes[2], fraction=0.046)
axes[2].set_title(f"4. blend weight M\n(α = {box['alpha']:.2f} in the box)")
axes[3].imshow(source, cmap="gray", vmin=-1, vmax=1)
axes[3].add_patch(Rectangle(box_xy, *box_size, fill=False, lw=1.5, ec="red"))
axes[3].set_title(f"5. source: normal {sample['source_index']}\n(same box)")
axes[4].imshow(anomaly, cmap="gray", vmin=-1, vmax=1)
axes[4].set_title("6. (1 − M)·x + M·s")
difference = axes[5].imshow((anomaly - normal).abs(), cmap="inferno")
fig.colorbar(difference, ax=axes[5], fraction=0.046)
axes[5].set_title("|anomaly − normal|:\nwhat G must remove")
clean_axes(axes)
show(fig, "synthetic_anomaly_steps")

# %% [markdown]
# The same function on a batch: each image gets its own source, box and alpha. Some anomalies are
# obvious, some almost invisible (small $\alpha$, or a source that looks alike at that place).

# %%
batch_indices = torch.arange(8)
generator = torch.Generator().manual_seed(0)
batch_normals = all_normals[batch_indices]  # (8, 1, 64, 64)
batch_sources = all_normals[pick_sources(batch_indices, len(all_normals), generator)]
batch_anomalies, batch_masks = paste_anomalies(batch_normals, batch_sources, core_percent, generator)  # (8, 1, 64, 64) ×2

fig, axes = plt.subplots(2, 8, figsize=(16, 4.4), layout="constrained")
for column in range(8):
    axes[0, column].imshow(batch_normals[column, 0], cmap="gray", vmin=-1, vmax=1)
    axes[0, column].set_title(f"normal {column}", fontsize=10)
    axes[1, column].imshow(batch_anomalies[column, 0], cmap="gray", vmin=-1, vmax=1)
    axes[1, column].contour(batch_masks[column, 0].float(), levels=[0.5], colors="red", linewidths=0.8)
    axes[1, column].set_title("+ synthetic anomaly", fontsize=10)
clean_axes(axes)
show(fig, "synthetic_anomaly_batch")

# %% [markdown]
# ### What the random draws look like over many images
#
# A trick makes the draws visible: paste a source of all ones into images of all zeros. Then the
# result *is* the blend weight $M$, and the box and $\alpha$ can be read off directly.

# %%
n_draws = 500 if SMOKE else 4000
zeros = torch.zeros(n_draws, 1, 64, 64)
ones = torch.ones(n_draws, 1, 64, 64)
blend, masks = paste_anomalies(zeros, ones, core_percent, torch.Generator().manual_seed(0))  # blend == M
masks = masks[:, 0]  # (n_draws, 64, 64) bool
alphas = blend.amax(dim=(1, 2, 3))  # the value inside each box
rows_hit, cols_hit = masks.any(dim=2), masks.any(dim=1)  # (n_draws, 64) each
box_height = rows_hit.sum(dim=1)  # = 2·half-width when not clipped
first_row = rows_hit.float().argmax(dim=1)
centre_row = first_row + box_height / 2

fig, axes = plt.subplots(1, 4, figsize=(16, 3.4), layout="constrained")
axes[0].hist((box_height // 2).numpy(), bins=np.arange(h_low - 0.5, h_high + 0.5), rwidth=0.85)
axes[0].set_title("half-width h (pixels)")
axes[1].hist(alphas.numpy(), bins=20, range=(0, 1), rwidth=0.9)
axes[1].set_title("α")
centre_bins = np.arange(int(offset) - 0.5, int(offset + core_percent * H) + 0.5, 3)  # 3 rows per bar
axes[2].hist(centre_row.numpy(), bins=centre_bins, rwidth=0.9)
axes[2].set_title("box centre, row")
for ax in axes[:3]:
    ax.set_ylabel("draws")
coverage = axes[3].imshow(masks.float().mean(dim=0), cmap="viridis")
axes[3].add_patch(Rectangle((offset - 0.5, offset - 0.5), core_percent * W, core_percent * H, fill=False, ls="--",
                            ec="yellow"))
fig.colorbar(coverage, ax=axes[3], fraction=0.046)
axes[3].set_title("how often a pixel is in a box")
clean_axes(axes[3])
show(fig, "synthetic_anomaly_draws")
print(f"{n_draws} draws: half-width {int(box_height.min()) // 2} to {int(box_height.max()) // 2} px, "
      f"α from {alphas.min():.3f} to {alphas.max():.3f}, centre rows {centre_row.min():g} to {centre_row.max():g}")

# %% [markdown]
# Half-widths are uniform over their range, $\alpha$ is uniform on $(0, 1)$, centres are uniform in
# the core (the ranges are printed above), and boxes cover the middle of the image most often,
# fading out towards the edges.

# %% [markdown]
# ## 5. Explore the parameters
#
# `paste_anomalies` draws the box and $\alpha$ itself, so you steer it through the **seed** of its
# random generator, the **normal image** it starts from, and **core_percent**. Move the sliders: the
# figure redraws and its title reports the box and $\alpha$ read back from the result. Try
# `core_percent = 1.0`: centres may then land near the border and the box gets clipped.
# (Where widgets cannot run, e.g. on GitHub or under the tests, you see the figure for the
# default values.)

# %%
import ipywidgets as widgets
from matplotlib.figure import Figure

from anomaly_lib.colab import enable_widgets, show_widget


def explore(index=0, seed=3, core_percent=CONFIG.core_percent):
    """Figure: the normal with its core region, the source, the blend weight and the result."""
    sample = make_anomaly(index, seed, core_percent)
    box = drawn_box(sample)
    offset = (1 - core_percent) / 2 * 64
    fig = Figure(figsize=(12, 3.5), layout="constrained")
    axes = fig.subplots(1, 4)
    box_xy = (box["left"] - 0.5, box["top"] - 0.5)
    box_size = (box["right"] - box["left"] + 1, box["bottom"] - box["top"] + 1)
    axes[0].imshow(sample["normal"], cmap="gray", vmin=-1, vmax=1)
    axes[0].add_patch(Rectangle((offset - 0.5, offset - 0.5), core_percent * 64, core_percent * 64,
                                fill=False, ls="--", ec="yellow"))
    axes[0].add_patch(Rectangle(box_xy, *box_size, fill=False, ec="red"))
    axes[0].set_title(f"normal {index}: core (yellow), box (red)", fontsize=10)
    axes[1].imshow(sample["source"], cmap="gray", vmin=-1, vmax=1)
    axes[1].add_patch(Rectangle(box_xy, *box_size, fill=False, ec="red"))
    axes[1].set_title(f"source: normal {sample['source_index']}", fontsize=10)
    weight = axes[2].imshow(sample["mask"] * box["alpha"], cmap="magma", vmin=0, vmax=1)
    fig.colorbar(weight, ax=axes[2], fraction=0.046)
    axes[2].set_title(f"M: α = {box['alpha']:.2f}", fontsize=10)
    axes[3].imshow(sample["anomaly"], cmap="gray", vmin=-1, vmax=1)
    axes[3].set_title("result", fontsize=10)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"box: rows {box['top']}–{box['bottom']}, columns {box['left']}–{box['right']}   "
                 f"α = {box['alpha']:.2f}   core_percent = {core_percent:.2f}")
    return fig


enable_widgets()  # lets ipywidgets 8 draw in Colab; does nothing elsewhere
controls = {
    "index": widgets.IntSlider(0, min=0, max=len(all_normals) - 1, description="normal image"),
    "seed": widgets.IntSlider(3, min=0, max=200, description="seed"),
    "core_percent": widgets.FloatSlider(CONFIG.core_percent, min=0.1, max=1.0, step=0.05, description="core_percent"),
}


def explorer_png():
    buffer = io.BytesIO()
    explore(**{name: control.value for name, control in controls.items()}).savefig(buffer, format="png", dpi=100)
    return Image(buffer.getvalue())


default_png = explorer_png()
(OUT / "explorer_default.png").write_bytes(default_png.data)
show_widget(widgets.VBox(list(controls.values())), "(sliders for index, seed and core_percent: run the notebook to move them)")
figure_handle = display(default_png, display_id=True)  # the figure for the defaults, replaced on every change


def redraw(_change):
    figure_handle.update(explorer_png())


for control in controls.values():
    control.observe(redraw, names="value")

# %% [markdown]
# ## Summary
# - Med-AD: `images/` + `data.json` with `train/0`, `train/unlabeled/{0,1}`, `test/{0,1}`;
#   `read_medad` gives one path list per split.
# - Every image: bilinear resize to 64×64, then $2x/255 - 1$ into $[-1, 1]$, the range of the
#   generator's $\tanh$ output.
# - The unlabeled pool: the first $\lfloor N \cdot ar \rfloor$ unlabeled abnormal plus the first
#   $N - \lfloor N \cdot ar \rfloor$ unlabeled normal images; item $i$ pairs unlabeled $i$ with normal $i$.
# - A synthetic anomaly blends a square of another normal into normal $i$ with weight $\alpha$:
#   centre in the central `core_percent` of each axis, half-width from 5 % to 20 % of the side
#   (upper end excluded), $\alpha \sim U(0,1)$; the generator learns to undo it.
#
# Next: **02 · Windows and position codes**, how SAGAN cuts each of these images into four.

# %% [markdown]
# ## Exercises
#
# Write your answer down before you open a solution: a wrong guess you can see is worth more than
# a right one you only half thought. Each solution is hidden:
# run its cell, then open *Show the solution* for its code and what it prints.
#
# ### Exercise 1 · Predict the unlabeled pool
# A Med-AD folder lists 50 labeled normals, 40 unlabeled normal and 40 unlabeled abnormal images.
# With the authors' `ar`, how many abnormal and how many normal images enter the unlabeled pool,
# and which ones? What happens with `ar = 0.9`?

# %% cellView="form" jupyter={"source_hidden": true} tags=["solution"]
# @title Solution to exercise 1 (run it: the answer stays folded until you open it)
run_solution("01", 1)

# %% [markdown]
# ### Exercise 2 · Box sizes at another resolution
# The half-width is drawn as a fraction of the image side. Predict the smallest and the largest box
# side at 128×128, then measure both sizes with the zeros-and-ones trick of section 4.

# %% cellView="form" jupyter={"source_hidden": true} tags=["solution"]
# @title Solution to exercise 2 (run it: the answer stays folded until you open it)
run_solution("01", 2)

# %% [markdown]
# ### Exercise 3 · Does the pairing matter?
# Item $i$ always pairs unlabeled image $i$ with labeled normal $i$, and the first
# $\lfloor N\cdot ar\rfloor$ unlabeled images are the abnormal ones. Does any loss ask the generator
# to turn unlabeled image $i$ into normal $i$? Where, if anywhere, do the two images of a pair meet?
# (Notebook 04 has the losses; answer from what you know, then check there.)
#
# <details><summary>Solution</summary>
#
# No loss compares them pixel by pixel. The unlabeled image $x_A$ enters only through the critic
# (its reconstruction $G(x_A)$ is the "fake" side and the adversarial term); the normal $x_B$ is the
# critic's "real" side, the identity target and the source of the synthetic anomaly. A pair meets
# in two places only: it shares a batch, and the gradient penalty takes its interpolates
# $u\,x_B + (1-u)\,G(x_A)$ image by image, so normal $i$ is blended with the reconstruction of
# unlabeled $i$. Since batches are drawn at random and the critic only needs points between the two
# distributions, the fixed pairing has no effect worth worrying about; it is a convenience of the
# authors' dataset class that gives both lists the same length.
#
# </details>

# %% [markdown]
# ### Exercise 4 · Boxes at the border
# With `core_percent = 1.0` a centre can land anywhere. Guess what share of the boxes the image
# border then clips (roughly: a tenth? a third? half?), and what share it clips at the authors'
# value. Measure both.

# %% cellView="form" jupyter={"source_hidden": true} tags=["solution"]
# @title Solution to exercise 4 (run it: the answer stays folded until you open it)
run_solution("01", 4)
