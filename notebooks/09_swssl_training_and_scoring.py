# %% [markdown]
# # 09 · SWSSL: training, the feature bank and two ways to score
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/anomaly-course-kit/anomaly-course-kit/blob/main/notebooks/09_swssl_training_and_scoring.ipynb) [![Read it rendered](https://img.shields.io/badge/read-rendered-2ea44f)](https://anomaly-course-kit.github.io/anomaly-course-kit/09_swssl_training_and_scoring.html)
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
import inspect
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
import torchvision
from IPython.display import Markdown, display
from torch.utils.data import DataLoader
from torch.utils.flop_counter import FlopCounterMode

from anomaly_lib.compare import load_masks
from anomaly_lib.figures import heatmap_panel, roc_pr_figure, show_figure
from anomaly_lib.heatmaps import HeatScale
from anomaly_lib.metrics import roc_report
from anomaly_lib.medmnist import medmnist_or_phantoms
from swssl_lib import (
    PatchModel,
    SWSSLDataset,
    TrainConfig,
    WindowGrid,
    build_feature_bank,
    extract_test_features,
    fit,
    patch_map_to_pixels,
    read_images,
    score_patch_knn,
    score_reference,
)
from swssl_lib.data import CHEST_XRAY_COUNTS
from swssl_lib.train import TEST_SELECTION_WARNING, patch_loader

OUT = Path("outputs") / "09_swssl_training_and_scoring"
OUT.mkdir(parents=True, exist_ok=True)
plt.rcParams.update({"font.size": 11, "figure.dpi": 90})


def show(fig, name):
    """Save the figure as OUT/name.png and display it."""
    show_figure(fig, name, OUT)

# %% [markdown]
# ## 1. Settings: the paper's run and three small versions of it
#
# The paper trains `wide_resnet50_2` (ImageNet weights) on full-size chest X-rays. The kit's
# `TrainConfig()` defaults are the authors' settings, and the counts of the chest release live in one
# place, `swssl_lib.data.CHEST_XRAY_COUNTS` (Kermany et al., Cell 2018; Mendeley Data `rscbjbr9sj`,
# version 2). Here the images are chest phantoms, and their size depends on where the notebook runs.
# The table below is printed from `PAPER` and from `SETTINGS`, the dict the notebook picks its sizes
# from, so it cannot disagree with what runs.

# %%
PAPER = TrainConfig()  # the authors' chest setting: image size, patch, step, batch, SGD, backbone
SETTINGS = {  # where the notebook runs → phantom side, patch, step, phantom counts, epochs, batch
    "smoke test (KIT_SMOKE=1)": dict(size=128, patch=32, step=16, epochs=1, batch=6,
                                     counts=dict(train_normal=6, test_normal=3, test_abnormal=3)),
    "CPU": dict(size=256, patch=64, step=32, epochs=60, batch=24,
                counts=dict(train_normal=24, test_normal=12, test_abnormal=12)),
    "GPU (e.g. Colab)": dict(size=512, patch=64, step=16, epochs=60, batch=64,
                             counts=dict(train_normal=200, test_normal=50, test_abnormal=50)),
}
RUN_ON = "smoke test (KIT_SMOKE=1)" if SMOKE else "CPU" if device.type == "cpu" else "GPU (e.g. Colab)"
setting = SETTINGS[RUN_ON]
SIZE, PATCH, STEP, COUNTS = setting["size"], setting["patch"], setting["step"], setting["counts"]
EPOCHS, BATCH = setting["epochs"], setting["batch"]
PRETRAINED = not SMOKE  # ImageNet weights are asked for outside smoke mode
download_mb = torchvision.models.get_model_weights("resnet18").DEFAULT.meta["_file_size"]
WEIGHTS = "random init (smoke mode)"
if PRETRAINED:
    try:  # fetch once here, so that the table reports the weights this run really uses
        PatchModel(backbone="resnet18", pretrained=True)
        WEIGHTS = "ImageNet"
    except RuntimeError as error:  # no internet: say so, then train from random weights
        print(f"ImageNet weights unavailable ({type(error.__cause__).__name__}); this run uses random weights")
        PRETRAINED, WEIGHTS = False, "random init (download failed)"


def table_row(name, height, width, patch, step, backbone, weights, train, test, epochs, batch):
    grid = WindowGrid(height, width, patch, step)
    return (f"| {name} | {height}×{width} | {patch} / {step} | {grid.rows}×{grid.cols} = {grid.positions} "
            f"| {backbone}, {weights} | {train:,} / {test:,} | {epochs} | {batch} |")


rows = ["| setting | images | patch / step | windows per image | backbone | train / test images | epochs | batch |",
        "|---|---|---|---|---|---|---|---|"]
rows.append(table_row("**paper** (`TrainConfig()`, real X-rays)", *PAPER.image_size, PAPER.patch_size,
                      PAPER.step_size, PAPER.backbone, "ImageNet", CHEST_XRAY_COUNTS["train_normal"],
                      CHEST_XRAY_COUNTS["test_normal"] + CHEST_XRAY_COUNTS["test_abnormal"],
                      PAPER.epochs, PAPER.batch_size))
for name, s in SETTINGS.items():
    weights = WEIGHTS if name == RUN_ON else "random init" if name.startswith("smoke") else "ImageNet if it downloads"
    label = f"**{name}** ← this run" if name == RUN_ON else name
    rows.append(table_row(label, s["size"], s["size"], s["patch"], s["step"], "resnet18", weights,
                          s["counts"]["train_normal"], s["counts"]["test_normal"] + s["counts"]["test_abnormal"],
                          s["epochs"] if name.startswith("smoke") else f"{s['epochs']} (+1 resumed)", s["batch"]))
display(Markdown("\n".join(rows)))
print(f"this run: {RUN_ON} | resnet18 weights: {WEIGHTS} "
      f"(ImageNet weights are a one-time download of {download_mb:.0f} MB outside smoke mode)")

# %% [markdown]
# Notes on the table:
#
# - The paper row's epochs are the kit's default; the authors' script asks for far more and keeps
#   the checkpoint with the best test AUC (section 8 says why the kit does not).
# - Outside smoke mode the backbone starts from torchvision's ImageNet weights, as the authors' model
#   does; without internet the cell says so, continues from random weights, and the table's row for
#   this run says which weights it really uses.
# - **How long:** the smoke run takes seconds; the CPU and GPU settings take minutes. The timing cells
#   below measure *your* device, and section 4 extrapolates to the paper's evaluation. On a GPU much of
#   the time goes into drawing the phantoms and loading patches on the CPU.

# %% [markdown]
# ## 2. Data: chest phantoms in the chest layout
#
# `make_phantom_dataset` writes the layout SWSSL reads (`train/0.normal`, `test/0.normal`,
# `test/1.abnormal`), plus the lesion masks of the abnormal images, which the method never sees; we
# only use them to judge the heatmaps. `read_images` loads each split as one uint8 array (N, H, W).
# For training it reads the normal images only.
#
# `USE_MEDMNIST = True` runs on real pediatric chest X-rays instead: PneumoniaMNIST (the set SWSSL's
# paper uses, shrunk) at the first MedMNIST size that reaches this run's side, or its largest, 224 px
# (the cell prints which), downloaded once when online and read at this run's side; the same counts
# of training and test images. Offline the cell says so and keeps the phantoms. Real images have no
# lesion masks, so the heatmaps then show no outline and section 7's localisation numbers are skipped.

# %%
USE_MEDMNIST = False  # True: real pediatric chest X-rays (PneumoniaMNIST) when online
root, SOURCE = medmnist_or_phantoms(USE_MEDMNIST, OUT / "data", "chest", SIZE, COUNTS,
                                    test_per_class=COUNTS["test_normal"])
train_images = read_images(root, "chest", "train", SIZE, progress=False)
test_images = read_images(root, "chest", "test", SIZE, progress=False)
labels = np.array(test_images.labels)  # (M,) 0 normal, 1 abnormal
masks = load_masks(root, test_images.paths, SIZE)  # (M, SIZE, SIZE) bool lesion masks; empty for normals
print("train", tuple(train_images.pixels.shape), "| test", tuple(test_images.pixels.shape),
      f"({labels.sum()} abnormal)")

# %% [markdown]
# ## 3. Training
#
# One step, exactly as the authors' loop (see notebook 08 for the loss):
#
# $$p_1 = \text{proj}(v_1),\; p_n = \text{proj}(\text{neighbour}),\; p_2 = \text{proj}(v_2), \qquad
# L = \text{twin\_loss}(p_1, p_2, p_n, t),$$
#
# then SGD with momentum and weight decay, after clipping every gradient entry to
# $[-c, c]$; the values of the learning rate, momentum, weight decay and $c$ are the authors' and are
# printed with the config below. An epoch draws **one** patch item per training image, so epochs
# are short and many. `fit` writes `last.pt` atomically after every epoch (model, optimiser, epoch,
# random states), so `resume=True` continues after a Colab disconnect.

# %%
torch.manual_seed(0)
model = PatchModel(backbone="resnet18", pretrained=PRETRAINED)  # the weights of section 1's table

config = TrainConfig(category="chest", image_size=(SIZE, SIZE), patch_size=PATCH, step_size=STEP,
                     batch_size=BATCH, epochs=EPOCHS, eval_every=EPOCHS, backbone="resnet18",
                     pretrained=PRETRAINED)
items = SWSSLDataset(train_images, patch=True, patch_size=PATCH, step_size=STEP, category="chest")
loader = patch_loader(items, config)
print(config)
print(f"SGD: lr {config.lr}, momentum {config.momentum}, weight decay {config.weight_decay}; "
      f"gradients clipped to ±{config.clip_value}; loss variant {config.loss_variant!r}")

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
print(f"each step correlates {model.width}×{model.width} projection features, estimated from "
      f"{len(loader)} batch(es) of {BATCH} patches per epoch")

window = min(5, len(losses))  # epochs per running mean: one step per epoch is noisy, five are readable
running = np.convolve(losses, np.ones(window) / window, mode="valid")  # (epochs − window + 1,)
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot(range(1, len(losses) + 1), losses, "o-", alpha=0.5, label="each epoch")
if len(losses) > window:
    ax.plot(range(window, len(losses) + 1), running, "-", linewidth=2.5, label=f"mean of the last {window} epochs")
    ax.legend()
ax.set_xlabel("epoch")
ax.set_ylabel("mean twin loss (paper variant)")
ax.set_title("training loss")
fig.tight_layout()
show(fig, "loss_curve")
half = max(1, len(losses) // 2)
first_half, second_half = np.mean(losses[:half]), np.mean(losses[half:])
fell = second_half < 0.9 * first_half
print(f"mean loss over the first {half} epochs {first_half:.1f}, over the other {len(losses) - half} "
      f"{second_half:.1f}: " + (f"the loss fell by {1 - second_half / first_half:.0%} in this run" if fell else
                                "no clear fall in this run, so the loss cannot tell whether training helped; "
                                "section 5's controls can"))
if len(losses) >= 20:  # how a ten-epoch run (the same first ten epochs) would have read
    early_before, early_after = np.mean(losses[:5]), np.mean(losses[5:10])
    print(f"the first 10 epochs alone, halves {early_before:.1f} and {early_after:.1f}: "
          + ("already a fall" if early_after < 0.9 * early_before else "no clear fall yet; a run that short "
             "could not have shown one"))

# %% [markdown]
# Do not expect a smooth curve: each epoch here is one or a few steps, and each step estimates a
# feature correlation matrix as wide as the model (printed above) from one small batch, so the loss
# jumps from epoch to epoch (the authors use far larger batches, see the paper row of section 1, and
# many epochs). The thick line, a running mean over five epochs, shows the trend through the noise.
# The lines under the figure say whether the loss fell, from the means of the two halves of this run,
# and how the first ten epochs alone would have read: with the authors' small learning rate it takes
# tens of steps before a fall stands out of the noise, which is why the CPU setting trains for the
# epochs in section 1's table. A falling loss says the views are becoming alike to the network, not
# that it detects lesions: on phantoms much of the detection may come from comparing windows with the
# bank, even with features that have barely trained, and section 5 measures that with the untrained
# network as a control.

# %% [markdown]
# ## 4. The feature bank
#
# Scoring compares every window of a test image with the windows of the **normal training images**
# (the pneumonia images of the training split are never read). So after training, each normal
# training image is cut into its sliding windows, and each window's pooled backbone **embedding**
# (not the projection) is stored: a bank of shape $(N_\text{train}, C, P)$ with $C$ channels (the
# model's width) and $P$ window positions (the grid's).
#
# This run's whole evaluation as a picture, drawn from the trained `model`, its window grid and its
# number of normal training images: both kinds of image go through the same windows and backbone, the
# training features form the bank, and the two scorings compare a test image with it.

# %%
from swssl_lib.diagrams import evaluation_diagram

show(evaluation_diagram(model, WindowGrid(SIZE, SIZE, PATCH, STEP), n_train=len(train_images)), "evaluation")

# %% [markdown]
# How large is the bank for the paper's setting? The count comes from `CHEST_XRAY_COUNTS`, the width from
# the model (built on PyTorch's `meta` device: shapes only, no weights, no memory, instant) and the
# positions from the `WindowGrid`:

# %%
# NBVAL_CHECK_OUTPUT
with torch.device("meta"):
    paper_model = PatchModel(backbone=PAPER.backbone, pretrained=False)
paper_grid = WindowGrid(*PAPER.image_size, PAPER.patch_size, PAPER.step_size)
n_bank = CHEST_XRAY_COUNTS["train_normal"]  # only the normal training images are banked
n_test = CHEST_XRAY_COUNTS["test_normal"] + CHEST_XRAY_COUNTS["test_abnormal"]
per_image = paper_model.width * paper_grid.positions  # values per image: channels × positions
chunk_images = inspect.signature(score_reference).parameters["chunk_images"].default
print(f"chest release: {n_bank:,} normal training images are banked; its "
      f"{CHEST_XRAY_COUNTS['train_abnormal']:,} pneumonia training images are never read; {n_test} test images")
print(f"bank ({n_bank:,}, {paper_model.width}, {paper_grid.positions}): {paper_model.width} channels of "
      f"{PAPER.backbone} × {paper_grid.rows}×{paper_grid.cols} window positions")
for label, dtype in [("float32 (the authors, in RAM)", np.float32), ("float16 (the kit, on disk)", np.float16)]:
    itemsize = np.dtype(dtype).itemsize
    print(f"  {label:<30} {per_image * itemsize / 1e6:5.2f} MB per image, "
          f"{n_bank * per_image * itemsize / 1e9:5.2f} GB in all")
float32_bank = n_bank * per_image * 4
print(f"the authors' scoring subtracts each test image from the whole float32 bank, a second "
      f"{float32_bank / 1e9:.1f} GB array: a peak of about {2 * float32_bank / 1e9:.1f} GB")
print(f"the kit: test features in memory as float16 {n_test * per_image * 2 / 1e9:.1f} GB; the bank streamed "
      f"{chunk_images} images at a time, {chunk_images * per_image * 4 / 1e6:.0f} MB per float32 chunk")

# %% [markdown]
# The next cell prints the RAM of a standard Colab runtime (as `free -h` shows it; Google promises no
# size), next to the authors' float32 bank and its same-size temporary: they do not fit beside the
# test features and the model. The kit
# stores the bank as float16 in a `.npy` file written image by image, and both scorings read it back
# through `numpy.memmap` one chunk of images at a time, so the memory used stays flat however large the
# training set is. Here is the bank of our phantoms, written to disk:

# %%
from anomaly_lib.published import COLAB_RAM_GB, COLAB_RAM_SOURCE

print(f"Colab RAM: about {COLAB_RAM_GB[0]}–{COLAB_RAM_GB[1]} GB ({COLAB_RAM_SOURCE}); the authors' scoring peak: "
      f"about {2 * float32_bank / 1e9:.1f} GB")
assert 2 * float32_bank / 1e9 > COLAB_RAM_GB[1]


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
# **How long would the paper's evaluation take here?** It embeds every window of every normal training
# image and every test image through `wide_resnet50_2`. PyTorch's `FlopCounterMode` counts the
# floating-point operations of one window for both models (again on the `meta` device, so nothing is
# computed), and the rate just measured turns them into time. A rough extrapolation: real speed also
# depends on how well each size fills the device.

# %%
def flops_per_window(backbone: str, patch: int) -> int:
    """Floating-point operations of one window's embedding (a multiply-add counts as 2)."""
    with torch.device("meta"):  # shapes only: counted, not computed
        counted = PatchModel(backbone=backbone, pretrained=False).eval()
        with FlopCounterMode(display=False) as counter:
            counted.embed(torch.zeros(1, 3, patch, patch))
    return counter.get_total_flops()


ours, theirs = flops_per_window("resnet18", PATCH), flops_per_window(PAPER.backbone, PAPER.patch_size)
paper_windows = (n_bank + n_test) * paper_grid.positions
paper_flops = paper_windows * theirs
achieved = rate * ours  # FLOP/s this device reached on our windows
epoch_flops = n_bank * 3 * 3 * theirs  # 3 views per image; a backward pass costs about twice the forward
print(f"one window: resnet18 at {PATCH}² {ours / 1e9:.2f} GFLOP | {PAPER.backbone} at {PAPER.patch_size}² "
      f"{theirs / 1e9:.2f} GFLOP")
print(f"one paper evaluation: ({n_bank:,} + {n_test}) images × {paper_grid.positions} windows = "
      f"{paper_windows / 1e6:.2f} million windows, {paper_flops / 1e15:.1f} PFLOP")
hours = paper_flops / achieved / 3600
print(f"this device reached {achieved / 1e9:.1f} GFLOP/s → ≈ {hours:.0f} h (≈ {hours / 24:.0f} days) per "
      "evaluation (estimate)")
for name, sustained in [("a T4 in float32, assuming 4 TFLOP/s sustained", 4e12),
                        ("an H100 with TF32, assuming 200 TFLOP/s sustained", 200e12)]:
    print(f"  on {name}: ≈ {paper_flops / sustained / 60:.0f} min")
print(f"one training epoch ≈ {epoch_flops / 1e12:.0f} TFLOP, so one evaluation costs as much as "
      f"≈ {paper_flops / epoch_flops:.0f} epochs; the authors evaluate every {PAPER.eval_every} epochs")

# %% [markdown]
# The GPU lines are assumptions about sustained throughput, not measurements. With the paper's
# settings, **evaluation, not training, dominates a full run**: evaluate rarely (`--eval_every`),
# and keep the bank on disk.
#
# ## 5. Two scorings
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
tiny = score_reference(reference["bank"], reference["test"])  # bank (N, C, P), test (C, P)
print("bank", tuple(reference["bank"].shape), "| test", tuple(reference["test"].shape))
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
# ### Did training help? Controls in the same cell
#
# An AUC means little alone. The same scorings on the same images, with the features of the same
# network *before* training (the `--epochs 0` run: the weights of section 1's table, ImageNet or
# random) and, when ImageNet weights were used, of a network with random weights:

# %%
def scoring_aucs(network) -> dict:
    """Both scorings' AUCs on this notebook's phantoms with `network`'s features (bank in memory)."""
    network = network.to(device).eval()
    control_bank = build_feature_bank(network, full_loader(train_images), PATCH, STEP, progress=False)
    features, _, _ = extract_test_features(network, full_loader(test_images), PATCH, STEP, progress=False)
    return {"reference": roc_report(labels, score_reference(control_bank, features).image_scores.numpy()).auc,
            "patch_knn": roc_report(labels, score_patch_knn(control_bank, features, k=1).image_scores.numpy()).auc}


torch.manual_seed(0)  # the same start as section 3's model
controls = {f"trained ({len(losses)} epochs)": {name: report.auc for name, report in reports.items()},
            f"epochs 0 ({WEIGHTS})": scoring_aucs(PatchModel(backbone="resnet18", pretrained=PRETRAINED))}
if PRETRAINED:
    controls["random weights, untrained"] = scoring_aucs(PatchModel(backbone="resnet18", pretrained=False))
table = ["| features | reference AUC | patch_knn AUC |", "|---|---|---|"]
table += [f"| {name} | {aucs['reference']:.3f} | {aucs['patch_knn']:.3f} |" for name, aucs in controls.items()]
display(Markdown("\n".join(table)))
trained_row, start_row = list(controls.values())[:2]
for name in ("reference", "patch_knn"):
    change = trained_row[name] - start_row[name]
    verdict = "helped" if change > 0.02 else "hurt" if change < -0.02 else "made no clear difference"
    print(f"{name}: training {verdict} in this run ({change:+.3f} AUC against the same network before training, "
          f"{len(labels)} test images, one seed)")

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
#   but no single training image may match all of it for `reference` (exercise 2 builds such a case).
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
# ## 6. ROC and precision-recall
#
# `roc_pr_figure` marks two operating points on the ROC curve: the authors' cutoff, where sensitivity
# and specificity are as equal as possible, and Youden's J, which maximises their sum (notebook 06
# explains both). In smoke mode, with the handful of test images and training steps of section 1,
# these numbers mean little; section 5's controls say whether training helped at all. The authors'
# number on real chest X-rays is printed below from `anomaly_lib.published`, with its source.

# %%
from anomaly_lib.published import SWSSL_CHEST_AUC, SWSSL_RUN_NOTES

print(f"the authors, real chest X-rays: AUC {SWSSL_CHEST_AUC['full model']} % ({SWSSL_RUN_NOTES})")
for name, report in reports.items():
    scores = (ref if name == "reference" else knn).image_scores.numpy()
    show(roc_pr_figure(labels, scores, report=report, title=f"SWSSL on {SOURCE}: {name} scoring"), f"roc_{name}")

# %% [markdown]
# ## 7. Patch heatmaps
#
# `patch_map_to_pixels` spreads each window's `patch_knn` score over the pixels it covers (a pixel gets
# the mean of the windows that contain it), and `heatmap_panel` overlays it on the image. The yellow
# outline is the phantom's true lesion mask, which the model never saw. All maps share one colour
# scale, from the coolest to the hottest window shown, so that every colour is used (a scale from 0,
# or one centred on the cutoff as `--mode test` draws it, left the hot colours unused here). The
# colour bar ticks `patch_knn`'s authors' cutoff where it falls; it may be drawn because
# `patch_knn`'s image score is its largest window score, so a window above it decides the image. A
# pixel shows the mean of the windows over it, so a pixel above the cutoff's colour proves a window
# above the cutoff, while a lesion's one hot window, averaged with cooler neighbours, can look a little
# cooler than its score. (Scaled each to its own range, as `heatmap_panel` does without `scale=`,
# every normal map would show a red spot somewhere.)

# %%
abnormal_rows = list(np.flatnonzero(labels == 1)[:3])
normal_rows = list(np.flatnonzero(labels == 0)[:2])
rows = abnormal_rows + normal_rows
pixel_maps = patch_map_to_pixels(knn.patch_maps[rows], grid)  # (n, H, W)
titles = [f"{'abnormal' if labels[i] else 'normal'}\nscore {knn.image_scores[i]:.3g}" for i in rows]
cutoff = reports["patch_knn"].authors_cutoff.threshold
lowest, largest = float(np.nanmin(np.asarray(pixel_maps))), float(np.nanmax(np.asarray(pixel_maps)))
# from the coolest to the hottest window shown, so every colour is used; the cutoff is ticked where it falls
one_scale = HeatScale(min(lowest, cutoff), max(largest, cutoff, lowest + 1e-6), anchor=cutoff)
print("heatmap scale:", one_scale.describe())
panel = heatmap_panel(test_images.pixels[rows].numpy(), pixel_maps, titles=titles, scale=one_scale,
                      scale_label="patch_knn window score")
for row, i in enumerate(rows):
    if masks is not None and masks[i].any():  # real images (USE_MEDMNIST) have no masks
        panel.axes[2 * row + 1].contour(masks[i], levels=[0.5], colors="yellow", linewidths=1)
show(panel, "heatmaps")

# %% [markdown]
# How well do the maps find the lesions, over the whole test set? The same two numbers as notebooks
# 06 and 11: **pixel AUROC** (every pixel of every test image a sample, lesion pixels the positives)
# and **AUPRO** (each lesion's share of pixels above a cutoff, averaged over lesions, integrated up to
# 30 % of normal pixels above it). Pixels no window covers count as the lowest score here.

# %%
from anomaly_lib.metrics import aupro, pixel_auroc

test_maps = patch_map_to_pixels(knn.patch_maps, grid, uncovered=float(knn.patch_maps.min()))  # (M, H, W)
if masks is None:  # real images (USE_MEDMNIST)
    print("no lesion masks in this dataset, so the maps cannot be scored against lesions here")
else:
    assert masks[labels == 0].sum() == 0 and np.isfinite(test_maps).all()
    localisation = {"image AUC (patch_knn)": reports["patch_knn"].auc,
                    "pixel AUROC": pixel_auroc(test_maps, masks), "AUPRO (FPR ≤ 0.3)": aupro(test_maps, masks)}
    print(f"over {len(labels)} test images ({int(labels.sum())} with a lesion): "
          + ", ".join(f"{name} {value:.3f}" for name, value in localisation.items()))

# %% [markdown]
# ## 8. The kit's defaults and the authors' `reference` options
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
# ## 9. The same run from the command line
#
# ```bash
# python -m swssl_lib --mode demo                                  # phantoms, a few minutes on a CPU
# python -m swssl_lib --category chest --dataset_path DIR --backbone resnet18 --scoring both
# python -m swssl_lib --category chest --dataset_path DIR --resume   # continue after a disconnect
# python -m swssl_lib --mode test --category chest --dataset_path DIR --checkpoint runs/swssl/last.pt
# ```
#
# On Colab, put `--save_dir` on Google Drive so checkpoints survive a disconnect (see
# `data/README.md` for the real datasets and where to put them).
#
# ## Summary
# - Training follows the authors' step and optimiser (`TrainConfig()` holds their values); `fit`
#   checkpoints every epoch and resumes with `resume=True`.
# - The bank holds the sliding-window **embeddings** of the normal training images only:
#   (N, width, positions). Size it from the counts, the model's width and the grid; the kit keeps it
#   in float16 on disk and streams it.
# - With the paper's settings an evaluation costs far more than an epoch of training.
# - `score_reference` (the authors') compares channels over all positions and has no map;
#   `score_patch_knn` compares windows at the same position and gives the heatmap.
# - Choose the checkpoint without test labels; `selection="test"` reproduces the authors and warns.

# %% [markdown]
# ## 10. Exercises
#
# ### Exercise 1 · The bank for another dataset
#
# The authors' DBT setting (their `train_network_dbt.py`) resizes slices to 1024×768 (height × width)
# and keeps patch 128, step 32 and `wide_resnet50_2`. Suppose you bank 2,000 normal training slices.
#
# 1. How many window positions does one slice give? Use $\lfloor (L - p)/s \rfloor$ per axis and write
#    your number down.
# 2. How many GB is the float16 bank? And how many more windows per slice would `include_last=True`
#    add?
#
# Then open the solution, which asks `WindowGrid` and the model.

# %% cellView="form" jupyter={"source_hidden": true} tags=["solution"]
# @title Solution to exercise 1 (run it: the answer stays folded until you open it)
run_solution("09", 1)

# %% [markdown]
# ### Exercise 2 · When the two scorings disagree
#
# Build a bank of two training "images" A and B with random features (8 channels, 6 positions), and
# two test images:
#
# - **left-right**: positions 0–2 copied from A and positions 3–5 from B;
# - **channel mix**: even channels copied from A and odd channels from B (all positions).
#
# Predict for each test image whether `score_reference` and `score_patch_knn` give 0 or more than 0.
# Then run.

# %% cellView="form" jupyter={"source_hidden": true} tags=["solution"]
# @title Solution to exercise 2 (run it: the answer stays folded until you open it)
run_solution("09", 2)

# %% [markdown]
# ### Exercise 3 · Without the inverted view, without the neighbour
#
# The authors' run notes (notebook 07) say the chest AUC drops without the inverted view and without
# the neighbour term. Train three fresh models with the same steps and seed:
#
# 1. the full recipe;
# 2. view 2 = an ordinary augmented view of the patch (no inversion);
# 3. `twin_loss` without `f_neg` (no neighbour term);
#
# and score each on the phantoms. Predict the order of the three AUCs first. (In smoke mode the
# models see a couple of steps, so the comparison is noise; the GPU setting gives a fairer picture,
# and a single phantom run is no replacement for the authors' experiment on real X-rays.)

# %% cellView="form" jupyter={"source_hidden": true} tags=["solution"]
# @title Solution to exercise 3 (run it: the answer stays folded until you open it)
run_solution("09", 3)

# %% [markdown]
# ### Exercise 4 · Score with the projection instead of the embedding
#
# Scoring uses the pooled backbone embedding and throws the projector away. What happens to the AUC
# if the windows are described by the **projection** instead? Predict (up, down, the same?), then run
# on the model trained above. Hint: `sliding_window_features` calls the model's `embed` method.

# %% cellView="form" jupyter={"source_hidden": true} tags=["solution"]
# @title Solution to exercise 4 (run it: the answer stays folded until you open it)
run_solution("09", 4)

# %% [markdown]
# ### Exercise 5 · Why not keep the best test AUC?
#
# The authors evaluate on the test split every few epochs and keep the checkpoint with the best test
# AUC. Explain in two sentences why the AUC they then report is optimistic, and say what you would do
# instead when you have no labeled abnormal images for validation.
#
# <details><summary>Solution</summary>
#
# The AUC measured after training is a noisy estimate; choosing the maximum of many such estimates on
# the same test images picks the checkpoint that happened to fit those images best, so the reported
# number is biased upwards (the test labels were used to choose the model). Instead, fix the number
# of epochs in advance and report the last checkpoint (the kit's default), or choose on a separate
# validation split; with normal images only, a label-free criterion such as the training loss or the
# distance of held-out normal images to the bank can guide the choice, and the test set is scored once.
#
# </details>
