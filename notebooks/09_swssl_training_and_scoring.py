# %% [markdown]
# # 09 · SWSSL: training, the feature bank and two ways to score
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/anomaly-course-kit/anomaly-course-kit/blob/main/notebooks/09_swssl_training_and_scoring.ipynb)
#
# **Learning goals**
# - Train the patch model with the authors' recipe (SGD, gradient clipping, twin loss) on chest phantoms, with resumable checkpoints.
# - Build the training **feature bank** of sliding-window embeddings, and explain why it must be float16 and disk-backed at full size.
# - Compute both scorings, the authors' `score_reference` and the kit's `score_patch_knn`, and say why they differ.
# - Read patch heatmaps on high-resolution phantoms, and ROC/PR curves with two cutoffs.
# - Name where the kit's defaults depart from the authors' code, and the options that restore their behaviour.

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

# %%
import time
from functools import partial
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch.utils.data import DataLoader

from anomaly_lib.figures import heatmap_panel, roc_pr_figure, show_figure
from anomaly_lib.images import load_grayscale
from anomaly_lib.metrics import roc_report
from anomaly_lib.phantoms import make_phantom_dataset
from swssl_lib import (
    PatchModel,
    SWSSLDataset,
    TrainConfig,
    build_feature_bank,
    extract_test_features,
    fit,
    patch_map_to_pixels,
    read_images,
    score_patch_knn,
    score_reference,
)
from swssl_lib.train import TEST_SELECTION_WARNING, patch_loader

OUT = Path("outputs") / "09_swssl_training_and_scoring"
OUT.mkdir(parents=True, exist_ok=True)
plt.rcParams.update({"font.size": 11, "figure.dpi": 90})

show = partial(show_figure, folder=OUT)  # show(fig, name): save OUT/name.png and display it

# %% [markdown]
# ## Settings: three sizes of the same run
#
# The paper trains `wide_resnet50_2` (ImageNet weights) on 1024×1024 chest X-rays with 128×128 patches
# and a step of 32. Here the images are chest phantoms, and the size depends on where the notebook
# runs:
#
# | setting | images | patch / step | windows per image | backbone | train / test images | epochs |
# | --- | --- | --- | --- | --- | --- | --- |
# | smoke test (`KIT_SMOKE=1`) | 128² | 32 / 16 | 6×6 | resnet18, random init | 6 / 3+3 | 1 |
# | CPU, no smoke | 256² | 64 / 32 | 6×6 | resnet18 | 24 / 12+12 | 10 (+1) |
# | GPU (e.g. Colab) | 512² | 64 / 16 | 28×28, the paper's grid at half scale | resnet18 | 200 / 50+50 | 60 (+1) |
#
# Outside smoke mode the backbone starts from torchvision's ImageNet weights (a one-time download of
# about 45 MB), as the authors' model does; without internet the cell says so and falls back to random
# weights. **How long:** the smoke run takes well under a minute on 2 CPU cores; the CPU setting took
# about 2½ minutes on 2 busy CPU cores; the GPU setting should take about 5 minutes on a Colab T4,
# most of it drawing the 300 phantoms and loading patches on the CPU (an estimate from FLOP counts
# and CPU timings: we could not time it on a GPU). The timing cells below measure *your* device.

# %%
if SMOKE:
    SIZE, PATCH, STEP, COUNTS, EPOCHS, BATCH = 128, 32, 16, dict(train_normal=6, test_normal=3, test_abnormal=3), 1, 6
elif device.type == "cpu":
    SIZE, PATCH, STEP, COUNTS, EPOCHS, BATCH = 256, 64, 32, dict(train_normal=24, test_normal=12, test_abnormal=12), 10, 24
else:
    SIZE, PATCH, STEP, COUNTS, EPOCHS, BATCH = 512, 64, 16, dict(train_normal=200, test_normal=50, test_abnormal=50), 60, 64
PRETRAINED = not SMOKE
print(f"images {SIZE}², patch {PATCH}, step {STEP}, counts {COUNTS}, {EPOCHS} epochs, batch {BATCH}")

# %% [markdown]
# ## Data: chest phantoms in the chest layout
#
# `make_phantom_dataset` writes the layout SWSSL reads (`train/0.normal`, `test/0.normal`,
# `test/1.abnormal`), plus the lesion masks of the abnormal images, which the method never sees; we
# only use them to judge the heatmaps. `read_images` loads each split as one uint8 array (N, H, W).

# %%
root = make_phantom_dataset(OUT / "phantoms", layout="chest", image_size=SIZE, counts=COUNTS, seed=0)
train_images = read_images(root, "chest", "train", SIZE, progress=False)
test_images = read_images(root, "chest", "test", SIZE, progress=False)
labels = np.array(test_images.labels)  # (M,) 0 normal, 1 abnormal
masks = {i: load_grayscale([root / "masks" / test_images.paths[i].name], SIZE, progress=False)[0] > 127
         for i in np.flatnonzero(labels == 1)}  # lesion masks of the abnormal test images
print("train", tuple(train_images.pixels.shape), "| test", tuple(test_images.pixels.shape),
      f"({labels.sum()} abnormal)")

# %% [markdown]
# ## Training
#
# One step, exactly as the authors' loop (see notebook 08 for the loss):
#
# $$p_1 = \text{proj}(v_1),\; p_n = \text{proj}(\text{neighbour}),\; p_2 = \text{proj}(v_2), \qquad
# L = \text{twin\_loss}(p_1, p_2, p_n, t),$$
#
# then SGD (lr $10^{-4}$, momentum 0.9, weight decay $10^{-5}$) after clipping every gradient entry
# to $[-0.1, 0.1]$. An epoch draws **one** patch item per training image, so epochs are short and
# many. `fit` writes `last.pt` atomically after every epoch (model, optimiser, epoch, random states),
# so `resume=True` continues after a Colab disconnect.

# %%
torch.manual_seed(0)
try:
    model = PatchModel(backbone="resnet18", pretrained=PRETRAINED)
except RuntimeError as error:  # no internet: say so, then train from random weights
    print(f"ImageNet weights unavailable ({type(error.__cause__).__name__}); using random weights")
    PRETRAINED = False
    model = PatchModel(backbone="resnet18", pretrained=False)

config = TrainConfig(category="chest", image_size=(SIZE, SIZE), patch_size=PATCH, step_size=STEP,
                     batch_size=BATCH, epochs=EPOCHS, eval_every=EPOCHS, backbone="resnet18",
                     pretrained=PRETRAINED)
items = SWSSLDataset(train_images, patch=True, patch_size=PATCH, step_size=STEP, category="chest")
loader = patch_loader(items, config)
print(config)

# %%
RUN = OUT / "run"
started = time.perf_counter()
# overwrite=True: re-running the notebook starts this run over (fit refuses a folder holding a run)
summary = fit(model, loader, config, RUN, device=device, progress=not SMOKE, overwrite=True)
train_seconds = time.perf_counter() - started
steps = EPOCHS * len(loader)
print(f"{steps} steps in {train_seconds:.1f} s: {train_seconds / steps:.2f} s per step of 3×{BATCH} patches "
      f"on {describe_device(device)}")
print("checkpoint:", summary["checkpoint"])

# %% [markdown]
# Resuming is one flag: `fit(..., resume=True)` reloads `last.pt` (weights, optimiser, epoch, random
# states) and carries on from the next epoch instead of starting over. Here we ask for one epoch more
# (none in smoke mode, where it only reloads):

# %%
config.epochs = EPOCHS + (0 if SMOKE else 1)
summary = fit(model, loader, config, RUN, device=device, resume=True, progress=False)
losses = [record["loss"] for record in summary["history"]]
print("mean twin loss per epoch:", [round(loss, 1) for loss in losses])

fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot(range(1, len(losses) + 1), losses, "o-")
ax.set_xlabel("epoch")
ax.set_ylabel("mean twin loss (paper variant)")
ax.set_title("training loss")
fig.tight_layout()
show(fig, "loss_curve")

# %% [markdown]
# Do not expect a smooth curve from a short run: each epoch here is one or a few steps, and each step
# estimates a 512×512 feature correlation from one small batch, so the loss jumps from epoch to epoch
# and only trends down over hundreds of steps (the authors use batch 300 and many epochs). On phantoms
# much of the detection comes from comparing windows with the bank, which works even with features
# that have barely trained.

# %% [markdown]
# ## The feature bank
#
# Scoring compares every window of a test image with the windows of **all** normal training images.
# So after training, each training image is cut into its sliding windows, and each window's pooled
# backbone **embedding** (not the projection) is stored: a bank of shape
# $(N_\text{train}, C, P)$ with $C$ channels and $P$ window positions.
#
# The authors keep it in memory as float32. For the paper's setting that is far too large:

# %%
# NBVAL_CHECK_OUTPUT
n_train, channels, positions = 5216, 2048, 28 * 28  # a 5,216-image chest training set, wide_resnet50_2, 1024/128/32
float32_bytes = n_train * channels * positions * 4
print(f"{n_train:,} × {channels:,} × {positions} values")
print(f"  float32 in memory (the authors): {float32_bytes / 1e9:5.1f} GB")
print(f"  float16 on disk (the kit):       {float32_bytes / 2 / 1e9:5.1f} GB")
print(f"  one streamed chunk of 16 images as float32: {16 * channels * positions * 4 / 1e6:.0f} MB")

# %% [markdown]
# A standard Colab runtime has about 13 GB of RAM. The kit stores the bank as float16 in a `.npy` file
# written image by image, and both scorings read it back through `numpy.memmap` one chunk of images at
# a time, so the memory used stays flat however large the training set is. Here is the bank of our
# phantoms, written to disk:

# %%
def full_loader(images, batch_size=8):
    """(image, label) batches of whole images, normalised like the training views (the kit's default)."""
    return DataLoader(SWSSLDataset(images, patch=False, category="chest"), batch_size=batch_size)


model.eval()
started = time.perf_counter()
bank = build_feature_bank(model, full_loader(train_images), PATCH, STEP, path=OUT / "feature_bank.npy",
                          progress=False)  # float16, on disk
bank_seconds = time.perf_counter() - started
print("bank", bank.shape, bank.dtype, f"| {bank.nbytes / 1e6:.1f} MB in {bank.path}")
first_chunk = next(bank.chunks(chunk_images=4))  # what the scorings see: float32, a few images at a time
print("one chunk:", tuple(first_chunk.shape), first_chunk.dtype)

started = time.perf_counter()
test_features, test_labels, grid = extract_test_features(model, full_loader(test_images), PATCH, STEP, progress=False)
test_seconds = time.perf_counter() - started
windows = (len(train_images) + len(test_images)) * grid.positions
rate = windows / (bank_seconds + test_seconds)
print("test features", tuple(test_features.shape), test_features.dtype, "| grid", grid.shape)
print(f"{windows:,} windows embedded at {rate:,.0f} windows/s on {describe_device(device)}")

# %% [markdown]
# **How long would the paper's evaluation take here?** It embeds every window of every training and
# test image: about $(5{,}216 + 600) \times 784 \approx 4.6$ million windows of 128×128 through
# `wide_resnet50_2`, which costs about 6.3 times resnet18's FLOPs at the same size (11.4 vs 1.8
# GFLOPs at 224², from torchvision's model metadata). A rough extrapolation from the rate just
# measured (real speed also depends on how well each size fills the device):

# %%
cost_ratio = 11.398 / 1.814 * (128 / PATCH) ** 2  # wide_resnet50_2 at 128² vs resnet18 at PATCH²
paper_windows = (5216 + 600) * 784
hours = paper_windows * cost_ratio / rate / 3600
print(f"≈ {hours:.1f} h per full evaluation on this device (estimate); the authors evaluate before "
      "training and every 10 epochs")

# %% [markdown]
# From FLOP counts alone (about 3.7 G multiply-adds per 128² window, 17 P per evaluation), that is a
# few minutes on an H100-class GPU and more than an hour on a Colab T4 (our estimate; not measured).
# Training is cheap by comparison, since an epoch is one patch triple per image.
# So with the paper's settings, **evaluation, not training, dominates a full run**: evaluate rarely
# (`--eval_every`), and keep the bank on disk.
#
# ## Two scorings
#
# Let $B[n, c, p]$ be the bank (training image $n$, channel $c$, position $p$) and $T[c, p]$ one test
# image's features.
#
# **The authors' `score_reference`.** For every channel, compare the *whole row of positions* with
# each training image, keep the best match, then take the worst channel:
#
# $$d[n, c] = \lVert B[n, c, :] - T[c, :] \rVert_2, \qquad s[c] = \min_n d[n, c], \qquad \text{score} = \max_c s[c].$$
#
# **The kit's `score_patch_knn`.** For every position, compare the *whole feature vector* with the
# training windows at the same position, keep the $k$ nearest, then take the worst position:
#
# $$m[p] = \operatorname{mean}_{k\text{ nearest } n} \lVert B[n, :, p] - T[:, p] \rVert_2, \qquad \text{score} = \max_p m[p].$$
#
# First a check that `score_reference` is the authors' evaluation: on a tiny bank produced with their
# code, it gives their number.

# %%
reference = torch.load(Path("..") / "tests" / "fixtures" / "swssl_small.pt", weights_only=True)["scoring"]
tiny = score_reference(reference["bank"], reference["test"])  # bank (5, 8, 9), test (8, 9)
print(f"score_reference {tiny.image_scores.item():.6f} | the authors' code {reference['reference_image_score']:.6f}")

# %%
ref = score_reference(bank, test_features, device=device)  # streams over the disk-backed bank
knn = score_patch_knn(bank, test_features, k=1, grid=grid, device=device)
print("reference: image scores", tuple(ref.image_scores.shape), "| channel scores", tuple(ref.channel_scores.shape))
print("patch_knn: image scores", tuple(knn.image_scores.shape), "| patch maps", tuple(knn.patch_maps.shape))
reports = {"reference": roc_report(labels, ref.image_scores.numpy()),
           "patch_knn": roc_report(labels, knn.image_scores.numpy())}
for name, report in reports.items():
    print(f"[{name}] {report}")

# %% [markdown]
# ### Why they differ
#
# - **Which axis the distance runs over.** `reference` measures distance along *positions*: channel
#   $c$ of a test image is a map over the whole image, compared with the same map of a training image.
#   `patch_knn` measures distance along *channels*: the full description of one window, compared with
#   the windows at the same place.
# - **Where the nearest neighbour may come from.** `reference` picks one training image per channel,
#   judged on the whole image at once; `patch_knn` picks one per position. A normal image that looks
#   like training image 3 on the left and training image 7 on the right is normal for `patch_knn`,
#   but no single training image may match all of it for `reference`.
# - **What a small lesion does.** It changes a few positions strongly. `patch_knn` sees that directly
#   (the maximum over positions). In `reference` the change is one term of an L2 norm over all $P$
#   positions, diluted by everything else in the image; the maximum over channels then looks for the
#   channel where it stands out most.
# - **Localisation.** `reference` sums the positions away, so it has no map. `patch_knn` gives a score
#   per window: the heatmap.
#
# The two image scores per test image, side by side:

# %%
fig, ax = plt.subplots(figsize=(5.5, 4.5))
for label, colour, name in [(0, "tab:blue", "normal"), (1, "tab:red", "abnormal")]:
    chosen = labels == label
    ax.scatter(ref.image_scores[chosen], knn.image_scores[chosen], c=colour, label=name, s=30)
ax.set_xlabel("score_reference (max over channels)")
ax.set_ylabel("score_patch_knn (max over positions)")
ax.set_title(f"AUC: reference {reports['reference'].auc:.2f}, patch_knn {reports['patch_knn'].auc:.2f}")
ax.legend()
fig.tight_layout()
show(fig, "scores_scatter")

# %% [markdown]
# ## ROC and precision-recall
#
# `roc_pr_figure` marks two operating points on the ROC curve: the authors' cutoff, where sensitivity
# and specificity are as equal as possible, and Youden's J, which maximises their sum (notebook 06
# explains both). In smoke mode, with six test images and two training steps, these numbers mean
# little; with the GPU setting the phantoms' lesions should be found far better than chance. On real
# chest X-rays the authors report an AUC of about 0.89.

# %%
for name, report in reports.items():
    scores = (ref if name == "reference" else knn).image_scores.numpy()
    show(roc_pr_figure(labels, scores, report=report, title=f"SWSSL on chest phantoms: {name} scoring"), f"roc_{name}")

# %% [markdown]
# ## Patch heatmaps
#
# `patch_map_to_pixels` spreads each window's `patch_knn` score over the pixels it covers (a pixel gets
# the mean of the windows that contain it), and `heatmap_panel` overlays it on the image. The yellow
# outline is the phantom's true lesion mask, which the model never saw. Each map is scaled to its own
# range, so compare *where* it is hot, and use the score in the title to compare images.

# %%
abnormal_rows = list(np.flatnonzero(labels == 1)[:3])
normal_rows = list(np.flatnonzero(labels == 0)[:2])
rows = abnormal_rows + normal_rows
pixel_maps = patch_map_to_pixels(knn.patch_maps[rows], grid)  # (n, H, W)
titles = [f"{'abnormal' if labels[i] else 'normal'}\nscore {knn.image_scores[i]:.3g}" for i in rows]
panel = heatmap_panel(test_images.pixels[rows].numpy(), pixel_maps, titles=titles)
for row, i in enumerate(rows):
    if i in masks:
        panel.axes[2 * row + 1].contour(masks[i], levels=[0.5], colors="yellow", linewidths=1)
show(panel, "heatmaps")

# %% [markdown]
# ## The kit's defaults and the authors' `reference` options
#
# | topic | the authors' code | kit default | to reproduce the authors |
# | --- | --- | --- | --- |
# | normalisation | only the two views are normalised; the neighbour, the training and the test images stay in [0, 1] | every input normalised the same way | `SWSSLDataset(..., normalization="reference")`, `--normalization reference` |
# | checkpoint selection | keep the checkpoint with the best **test** AUC | the last epoch | `TrainConfig(selection="test")`, `--selection test` (warns) |
# | window grid | `(size − patch) // step` starts, the last valid one skipped | the same | `include_last=True`, `--include_last_window` to add it |
# | feature bank | float32, all in memory | float16, on disk, streamed | `--bank_in_memory` keeps it in RAM |
# | scoring | `score_reference` | `--scoring reference` on the command line; notebooks show both | `--scoring patch_knn` or `both` for maps |
#
# The normalisation difference, on one training item: the neighbour leaves the authors' dataset in
# [0, 1] while the views are in [−1, 1], so the network sees the neighbour at a different brightness
# than everything else it is compared with.

# %%
for normalization in ("default", "reference"):
    view1, view2, neighbour, _ = SWSSLDataset(train_images, patch=True, patch_size=PATCH, step_size=STEP,
                                              normalization=normalization)[0]
    print(f"{normalization:>9}: view1 [{view1.min():.2f}, {view1.max():.2f}]  "
          f"neighbour [{neighbour.min():.2f}, {neighbour.max():.2f}]")

# %% [markdown]
# Selecting the checkpoint on the test AUC uses the test labels to choose the model, so the AUC it
# then reports is optimistic: with a noisy curve, the best of many evaluations is higher than what a
# fresh test set would give. The kit keeps the last epoch unless told otherwise, and says so:

# %%
print(TEST_SELECTION_WARNING)

# %% [markdown]
# ## The same run from the command line
#
# ```bash
# python -m swssl_lib --mode demo                                  # phantoms, ~3 minutes on a CPU
# python -m swssl_lib --category chest --dataset_path DIR --backbone resnet18 --scoring both
# python -m swssl_lib --category chest --dataset_path DIR --resume   # continue after a disconnect
# python -m swssl_lib --mode test --category chest --dataset_path DIR --checkpoint runs/swssl/last.pt
# ```
#
# On Colab, put `--save_dir` on Google Drive so checkpoints survive a disconnect (see
# `data/README.md` for the real datasets and where to put them).
#
# **Next:** notebook 10 is a one-page cheat-sheet of both methods for interview preparation.
