# %% [markdown]
# # 00 · Start here: anomaly detection in medical images
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/anomaly-course-kit/anomaly-course-kit/blob/main/notebooks/00_start_here.ipynb) [![Read it rendered](https://img.shields.io/badge/read-rendered-2ea44f)](https://anomaly-course-kit.github.io/anomaly-course-kit/00_start_here.html)
#
# **Learning goals**
# - Say what anomaly detection in medical images is, and why it learns mostly from normal images.
# - Say what each method trains on: SWSSL on normal images only; SAGAN semi-supervised, on labeled
#   normals plus an unlabeled pool that contains abnormal images.
# - Explain in two sentences each why a *reconstruction* model (SAGAN) and a *self-supervised* model (SWSSL) can find lesions they have never seen.
# - Find your way around the kit: its three packages, its command-line demos and its tests.
# - Check which device this notebook runs on, and switch Colab to a GPU.
# - Know which notebook to open next.

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
# The cell above is the same in every notebook. On Colab it clones the kit and installs it with
# `pip install -e`, so `import sagan_lib` works; on your own machine it assumes you ran
# `pip install -e ".[dev]"` once. It defines two names the rest of the notebook uses:
# `device` (the GPU if there is one) and `SMOKE`, which the automatic tests switch on to run every
# notebook small and fast. Files a notebook writes go to `outputs/<notebook name>/`.

# %%
from functools import partial
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from anomaly_lib.figures import show_figure

OUT = Path("outputs") / "00_start_here"
OUT.mkdir(parents=True, exist_ok=True)

show = partial(show_figure, folder=OUT)  # show(fig, name): save OUT/name.png and display it

# %% [markdown]
# ## 1. The problem
#
# A radiologist reading a chest X-ray asks one question before any other: *is anything here that
# should not be?* Anomaly detection asks a model the same question. It does not name the disease;
# it scores how far an image (or a region of it) is from normal anatomy.
#
# Why not simply train a classifier on "normal" versus "abnormal"?
# - **Abnormal is open-ended.** Nodules, consolidation, masses, effusions, devices, rare diseases:
#   a classifier only knows the abnormalities in its training set.
# - **Labels are expensive and unbalanced.** Normal studies are plentiful; confirmed, annotated
#   lesions are rare and need an expert.
# - **Normal is learnable.** Anatomy is repetitive: lungs, heart and ribs sit in roughly the same
#   places with the same textures. A model can learn that regularity from normal images alone.
#
# So both methods in this kit learn *what normal looks like* and then measure deviation from it.
#
# Let us look at data right away. The kit draws **phantoms**, synthetic images that behave like
# the real datasets: normal images vary in pose, size, contrast and noise, and abnormal images
# carry a local lesion whose exact mask we know (real datasets rarely give you that).

# %%
from anomaly_lib.phantoms import draw_breast, draw_chest

size = 128 if SMOKE else 256
examples = {
    "chest X-ray (both methods)": [draw_chest(np.random.default_rng(seed), size, abnormal=seed >= 2) for seed in range(4)],
    "breast slice (SWSSL, DBT)": [draw_breast(np.random.default_rng(seed), size, abnormal=seed >= 2) for seed in range(4)],
}

fig, axes = plt.subplots(2, 5, figsize=(13, 6), layout="constrained")
for row, (kind, phantoms) in zip(axes, examples.items()):
    normal_a, normal_b, abnormal_a, abnormal_b = phantoms
    panels = [
        (normal_a.image, None, "normal"),
        (normal_b.image, None, "normal"),
        (abnormal_a.image, None, "abnormal"),
        (abnormal_b.image, None, "abnormal"),
        (abnormal_b.image, abnormal_b.lesion_mask, "abnormal + lesion mask"),
    ]
    for ax, (image, mask, title) in zip(row, panels):
        ax.imshow(image, cmap="gray", vmin=0, vmax=255)
        if mask is not None:
            ax.contour(mask, levels=[0.5], colors="red", linewidths=1.2)
        ax.set_title(title, fontsize=11)
        ax.set_xticks([])
        ax.set_yticks([])
    row[0].set_ylabel(kind, fontsize=11)
fig.suptitle("Phantoms: normal images vary; abnormal ones add a local lesion (red outline = known mask)", fontsize=12)
show(fig, "phantoms")

# %% [markdown]
# Each `Phantom` holds the grey image (uint8, `H × W`), its lesion mask (all `False` for a normal
# image) and the organ mask (lungs or breast tissue). A model never sees the masks while it learns;
# we keep them to check later whether its heatmaps point at the right place.

# %%
phantom = examples["chest X-ray (both methods)"][3]
print("image     ", phantom.image.dtype, phantom.image.shape)
print("lesion    ", phantom.lesion_mask.dtype, phantom.lesion_mask.shape, f"{phantom.lesion_mask.mean():.1%} of pixels")
print("organ     ", phantom.organ_mask.dtype, phantom.organ_mask.shape, f"{phantom.organ_mask.mean():.1%} of pixels")

# %% [markdown]
# ## 2. Two ways to learn "normal"
#
# ### Reconstruction: SAGAN (notebooks 01 to 06)
# Train a network $G$ that maps an image to a *normal-looking* version of itself. On normal anatomy
# it has seen thousands of times, $G(x) \approx x$. On a lesion it has never learned to draw, it
# falls back to what usually lies there, so the lesion is missing from $G(x)$. The anomaly score is
# the reconstruction error
#
# $$ s(x) = \frac{1}{HW}\sum_{i,j} \tfrac12\,\lvert x_{ij} - G(x)_{ij} \rvert , $$
#
# and the per-pixel error $\lvert x - G(x)\rvert$ is a heatmap of *where*.
#
# An autoencoder that is too good would copy lesions too. SAGAN fights that with its training
# signal. It is **semi-supervised**: besides labeled normal images it sees an **unlabeled pool**
# that contains abnormal images, and a **critic** (a Wasserstein GAN) pushes $G$'s reconstructions
# of that pool to look like normal images, lesions included. It also trains on **synthetic
# anomalies** (a square of another patient's image blended in) and asks $G$ to remove them. The
# generator reconstructs the image as a 2×2 grid of **windows** with one shared network. SAGAN
# also appends a binary **position code** to each window, meant to tell the network where the
# window sits; notebook 02 shows that in the published network the layer right after each code
# cancels it.
#
# ### Self-supervision: SWSSL (notebooks 07 to 09)
# High-resolution images (chest X-rays, breast tomosynthesis slices) are too big to reconstruct
# well, and lesions are small. SWSSL learns a **feature extractor for patches** with a
# pretext task that needs no labels: two augmented views of the same patch (one of them
# intensity-inverted) should have the same features, and a neighbouring patch should have
# features about as similar as its distance says. At test time a sliding window computes the
# features of every patch of a test image and compares each with the features of the **same
# position** in normal training images. A patch far from all of its normal counterparts is
# anomalous:
#
# $$ s(x) = \max_{p\,\in\,\text{positions}}\ \min_{n\,\in\,\text{normal images}} \lVert f(x_p) - f(x^{(n)}_p) \rVert . $$
#
# (That is the kit's patch scoring with one neighbour. The authors arrange the same distances
# differently; notebook 09 compares the two.)
#
# So the two methods need different data. SWSSL learns from **normal images only**. SAGAN needs
# labeled normals **and** an unlabeled pool in which some images are abnormal (nobody tells it
# which); the synthetic anomalies it makes itself. Neither needs lesion masks, and both give a
# heatmap as well as a score. The table below is filled in from the two libraries' settings.

# %%
from sagan_lib.config import SaganConfig
from swssl_lib.train import TrainConfig

sagan, swssl = SaganConfig(), TrainConfig()
height, width = swssl.image_size
rows = [
    "| | SAGAN (`SaganConfig()`) | SWSSL (`TrainConfig()`) |",
    "| --- | --- | --- |",
    "| learning setting | semi-supervised | self-supervised, normal images only |",
    f"| trains on | labeled normals + an unlabeled pool with an abnormal share `ar` = {sagan.ar} "
    "+ synthetic anomalies made from the normals | normal training images |",
    f"| image size | {sagan.image_size}×{sagan.image_size} | {height}×{width} |",
    f"| what the network sees | {sagan.num_patch}×{sagan.num_patch} windows of "
    f"{sagan.image_size // sagan.num_patch}×{sagan.image_size // sagan.num_patch} | "
    f"{swssl.patch_size}×{swssl.patch_size} patches, every {swssl.step_size} pixels |",
    "| score | mean reconstruction error | distance to normal patches at the same place |",
]
display(Markdown("\n".join(rows)))
assert sagan.num_patch == 2, "section 2 says SAGAN reconstructs a 2×2 grid of windows"

# %% [markdown]
# Here are both methods as data flows, drawn by the kit from its own objects at the authors' settings:
# one SAGAN training iteration, then one SWSSL training step. Notebooks 04 and 08 take each apart.

# %%
import torch

from sagan_lib.diagrams import training_diagram
from swssl_lib import PatchModel, WindowGrid
from swssl_lib.diagrams import training_step_diagram

show(training_diagram(sagan), "sagan_training_iteration")  # the authors' settings (SaganConfig())

with torch.device("meta"):  # shapes without numbers: a full-size model costs nothing to build
    swssl_model = PatchModel(backbone=swssl.backbone, pretrained=False)
grid = WindowGrid(*swssl.image_size, swssl.patch_size, swssl.step_size)
show(training_step_diagram(swssl_model, grid, category=swssl.category), "swssl_training_step")

# %% [markdown]
# ## 3. A tour of the kit
#
# | package | what it is |
# | --- | --- |
# | `anomaly_lib` | what both methods share: phantoms, dataset layouts, image loading, metrics (AUC, AP, cutoffs), heatmaps, figures, shape tracing, checkpoints, device choice, Colab setup |
# | `sagan_lib` | SAGAN, one file per idea: windows, position codes, attention gate, generator, critic, losses, synthetic anomalies, data, training, scoring, the authors' weights |
# | `swssl_lib` | SWSSL, one file per idea: patch model, twin loss, augmentations, patch sampling, sliding windows, feature bank, scoring, training |
#
# The notebooks *import* these packages and explain them; no notebook keeps its own copy of a
# model or a loss. The table below lists the modules the lessons open, in the order they meet
# them, read live from the modules' docstrings so it stays true when the code changes. The other
# modules (command line, run folders, devices, mixed precision, several GPUs) are counted under it;
# `help(sagan_lib)` and each package's README describe them when you need them.

# %%
import importlib
import pkgutil

LESSON_MODULES = [  # (module, the notebooks that open it)
    ("anomaly_lib.phantoms", "01"), ("sagan_lib.synthetic_anomaly", "01"), ("sagan_lib.windows", "02"),
    ("sagan_lib.position_codes", "02"), ("sagan_lib.generator", "03"), ("sagan_lib.attention", "03"),
    ("sagan_lib.critic", "04"), ("sagan_lib.losses", "04"), ("sagan_lib.train", "05"), ("sagan_lib.scoring", "06"),
    ("anomaly_lib.metrics", "06, 11"), ("anomaly_lib.heatmaps", "06, 09"), ("swssl_lib.sliding", "07"),
    ("swssl_lib.sampling", "07"), ("swssl_lib.augment", "07"), ("swssl_lib.model", "08"), ("swssl_lib.loss", "08"),
    ("swssl_lib.bank", "09"), ("swssl_lib.scoring", "09"),
]
rows = ["| module | notebook | what it does |", "| --- | --- | --- |"]
for name, notebooks in LESSON_MODULES:
    summary = (importlib.import_module(name).__doc__ or "").strip().splitlines()[0]
    rows.append(f"| `{name}` | {notebooks} | {summary.replace('|', '/')} |")
display(Markdown("\n".join(rows)))
all_modules = [f"{package}.{info.name}" for package in ("anomaly_lib", "sagan_lib", "swssl_lib")
               for info in pkgutil.iter_modules(importlib.import_module(package).__path__)
               if not info.name.startswith("_")]
assert {name for name, _ in LESSON_MODULES} <= set(all_modules)
print(f"{len(LESSON_MODULES)} modules the lessons open; {len(all_modules) - len(LESSON_MODULES)} more in the kit")

# %% [markdown]
# ### The command line
#
# Each method runs end to end from a terminal (in Colab, prefix a command with `!`):
#
# ```bash
# python -m sagan_lib --mode demo     # phantoms → a reduced SAGAN → AUC, AP, ROC/PR and heatmap pictures
# python -m swssl_lib --mode demo     # the same for SWSSL
# python -m anomaly_lib phantoms --layout medad --out data/phantoms --image-size 64   # a dataset on disk
# python -m sagan_lib --help          # every flag, named as in the authors' code
# ```
#
# The demos train small models on phantoms for a few minutes on a CPU (much less on a GPU) and
# write their pictures to `demo_output/`. Set `RUN_DEMOS = True` below to run them from here.
#
# ### The tests
#
# ```bash
# pytest                              # everything, including every notebook in smoke mode
# pytest tests/test_notebooks.py      # only the notebook checks (a few seconds)
# ```
#
# `pytest` runs each notebook top to bottom through *nbval* with `KIT_SMOKE=1`, which makes every
# notebook shrink its sizes and iterations. Other tests compare the networks number by number with
# outputs of the authors' own code.

# %%
RUN_DEMOS = False  # True: run both demos here (a few minutes each on a CPU)

if RUN_DEMOS and not SMOKE:
    for package_name in ["sagan_lib", "swssl_lib"]:
        subprocess.run([sys.executable, "-m", package_name, "--mode", "demo"], check=True)
else:
    from sagan_lib.cli import build_parser

    help_lines = build_parser().format_help().splitlines()
    print("\n".join(help_lines[:6]), "\n   ...")

# %% [markdown]
# ## 4. Which device am I on?
#
# SAGAN and SWSSL train far faster on a GPU. In Colab: **Runtime → Change runtime type → Hardware
# accelerator: T4 GPU (or better) → Save**, then run the notebook again from the top (changing the
# runtime starts a fresh machine, so the setup cell installs the kit again).
#
# The cell below says what you got and measures it with a matrix multiplication, the operation
# convolutions are made of.

# %%
import time

import torch

print("torch", torch.__version__)
print("device:", describe_device(device))
if device.type == "cuda":
    properties = torch.cuda.get_device_properties(device)
    print(f"GPU memory: {properties.total_memory / 2**30:.1f} GiB")
else:
    print("No GPU. Every notebook runs on a CPU at reduced sizes; the training notebooks (05, 06, 09)"
          " are much faster on a Colab GPU runtime.")

n = 512 if SMOKE else 2048
a = torch.randn(n, n, device=device)
b = torch.randn(n, n, device=device)
a @ b  # warm-up
if device.type == "cuda":
    torch.cuda.synchronize()
start = time.perf_counter()
repeats = 5
for _ in range(repeats):
    c = a @ b
if device.type == "cuda":
    torch.cuda.synchronize()
seconds = (time.perf_counter() - start) / repeats
print(f"{n}×{n} matrix product: {seconds * 1e3:.1f} ms, about {2 * n**3 / seconds / 1e9:.0f} GFLOP/s")

# %% [markdown]
# For scale: a 2-core laptop CPU manages tens of GFLOP/s, a Colab T4 several thousand.

# %% [markdown]
# ## 5. Which notebook next?
#
# | you want to… | open |
# | --- | --- |
# | see how the data is laid out and how SAGAN fakes its training anomalies | 01 |
# | understand why SAGAN cuts images into windows and tells each window where it is | 02 |
# | follow every tensor shape through SAGAN's generator | 03 |
# | understand the critic, the gradient penalty and the three generator losses | 04 |
# | train SAGAN (on phantoms, or on a real dataset on a Colab GPU, with resume) | 05 |
# | turn reconstructions into scores, ROC/PR curves, cutoffs and heatmaps | 06 |
# | understand SWSSL's patch grid, neighbours and augmentations | 07 |
# | understand SWSSL's patch model and its twin loss | 08 |
# | train SWSSL and score high-resolution images with a feature bank | 09 |
# | revise for an interview: shapes, formulas, a flashcard quiz | 10 |
# | test whether a method beats a simple baseline, with honest error bars | 11 |
#
# A student new to the topic reads 01 → 06, then 07 → 09. Someone preparing an interview can
# start at 10 and jump back to the notebook each card points to. The links below open each
# notebook in Colab (they follow `anomaly_lib.colab.GITHUB_REPO`, so they also work for a fork).

# %%
from anomaly_lib.colab import colab_url

names = sorted(path.stem for path in Path(".").glob("[0-9][0-9]_*.ipynb"))  # this folder's notebooks
if names:
    display(Markdown("\n".join(f"- [{name}]({colab_url(name)})" for name in names)))
else:
    print("Run this notebook from the notebooks/ folder to list the links.")

# %% [markdown]
# ## Summary
# - Anomaly detection learns normal anatomy, mostly from normal images, and scores deviation from it.
# - SAGAN is semi-supervised: it trains on labeled normals plus an unlabeled pool that contains
#   abnormal images. It reconstructs small images window by window and scores the reconstruction
#   error; it learns to *remove* pasted-in anomalies, and a WGAN-GP critic pushes its
#   reconstructions of the unlabeled pool to look normal.
# - SWSSL trains on normal images only: it learns patch features without labels and scores each
#   patch of a high-resolution image by its distance to normal patches at the same position.
# - The kit is three packages, two CLI demos and a test suite that also runs these notebooks.
#
# Next: **01 · Data and synthetic anomalies**.
