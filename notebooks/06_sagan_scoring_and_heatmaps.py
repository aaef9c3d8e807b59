# %% [markdown]
# # 06 · SAGAN: scores, ROC curves and heatmaps
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/anomaly-course-kit/anomaly-course-kit/blob/main/notebooks/06_sagan_scoring_and_heatmaps.ipynb) [![Read it rendered](https://img.shields.io/badge/read-rendered-2ea44f)](https://anomaly-course-kit.github.io/anomaly-course-kit/06_sagan_scoring_and_heatmaps.html)
#
# **Learning goals**
# - Turn a trained generator into one anomaly score per image: reconstruct through the windows,
#   take $|x - G(x)|/2$, average; and average again over images of the same study.
# - Read ROC and precision-recall curves, AUC and AP.
# - Tell the two cutoffs apart: the authors' (sensitivity ≈ specificity) and Youden's J.
# - See *where* the generator finds an anomaly: difference maps and heatmap overlays against the
#   true lesion masks.
# - Move a threshold and watch the confusion matrix change.
# - Score with the authors' published checkpoints, in Python and from the command line.

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
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Image, display

from anomaly_lib.figures import show_figure

OUT = Path("outputs") / "06_sagan_scoring_and_heatmaps"
OUT.mkdir(parents=True, exist_ok=True)



# %% [markdown]
# ## 1. A trained generator
#
# Scoring needs a trained generator, so this notebook trains its own, exactly as the CLI demo does
# (notebook 05 explains the training): the demo's phantom counts and enlarged lesions
# (`DEMO_COUNTS`, `DEMO_LESION_SCALE`) and its reduced configuration (`DEMO_CONFIG`), all printed
# below with the time the training took. On a CPU that is a few minutes, on a GPU less; in smoke
# mode only a few iterations run, so the numbers there are near chance. Re-running the cell resumes
# from the checkpoint instead of starting over.
#
# `USE_MEDMNIST = True` scores real pediatric chest X-rays instead (PneumoniaMNIST at 64 px,
# downloaded once when online; offline the cell says so and keeps the phantoms). Real images
# carry no lesion masks, so the localisation metrics of section 6 are then skipped.

# %%
from anomaly_lib.medmnist import medmnist_or_phantoms
from sagan_lib.config import SaganConfig
from sagan_lib.data import MedADTestSet, MedADTrainSet
from sagan_lib.demo import DEMO_CONFIG, DEMO_COUNTS, DEMO_LESION_SCALE
from sagan_lib.train import SaganTrainer

USE_MEDMNIST = False  # True: real pediatric chest X-rays (PneumoniaMNIST) when online
if SMOKE:
    counts = {"train_normal": 16, "unlabeled_normal": 7, "unlabeled_abnormal": 10, "test_normal": 12, "test_abnormal": 12}
else:
    counts = DEMO_COUNTS
DATA, SOURCE = medmnist_or_phantoms(USE_MEDMNIST, OUT / "data", "medad", 64, counts,
                                    phantoms={"lesion_scale": DEMO_LESION_SCALE})

models = "smoke" if SMOKE else "models" if SOURCE == "phantoms" else "models_medmnist"  # one run per dataset
settings = dict(DEMO_CONFIG, model_save_dir=str(OUT / models))
if SMOKE:
    settings.update(batch_size=4, num_iters=4, num_iters_decay=2, log_step=2, model_save_step=4, lr_update_step=1)
config = SaganConfig(data_root=str(DATA), sample_dir=str(OUT / "samples"), **settings)
print("settings:", ", ".join(f"{name}={getattr(config, name)}" for name in DEMO_CONFIG if name != "dataset"))

torch.manual_seed(0)
trainer = SaganTrainer(config, MedADTrainSet(DATA, 64, progress=False), log=print)
if trainer.checkpoint_path.is_file():
    trainer.load()
start = time.time()
trainer.train(progress=not SMOKE)
G = trainer.G.eval()
print(f"generator: conv_dim={config.g_conv_dim}, repeat_num={config.g_repeat_num}, "
      f"{trainer.iteration} iterations ({time.time() - start:.0f} s in this call)")

# %% [markdown]
# ## 2. From an image to an anomaly map
#
# The generator was taught to return a *normal-looking* version of its input. So where the input
# is normal, $G(x) \approx x$; where it isn't, $G(x)$ paints over it. The per-pixel anomaly map is
#
# $$d(i, j) = \tfrac{1}{2}\,\lvert x(i, j) - G(x)(i, j)\rvert \in [0, 1],$$
#
# where the $\tfrac12$ maps the largest possible difference in $[-1, 1]$ to 1. `reconstruct` does
# the windowing for us (image → 2×2 windows → $G$ → stitched back) with $G$ in eval mode.

# %%
from sagan_lib.scoring import reconstruct, score_images

test_set = MedADTestSet(DATA, 64, progress=False)
images = torch.stack([test_set[i][0] for i in range(len(test_set))])  # (N, 1, 64, 64) in [-1, 1]
labels = test_set.labels.numpy()  # (N,) 0 = normal, 1 = abnormal
reconstructions, maps = reconstruct(G, images[:4].to(device))  # both (4, 1, 64, 64)
print("images", tuple(images[:4].shape), "→ reconstructions", tuple(reconstructions.shape),
      "and maps", tuple(maps.shape), f"(values in [{maps.min():.3f}, {maps.max():.3f}])")

# %% [markdown]
# The image's score is the mean of its map,
#
# $$s = \frac{1}{HW}\sum_{i,j} d(i, j),$$
#
# which is what `score_images` returns, batch by batch:

# %%
scores_by_hand = maps.mean(dim=(1, 2, 3))  # (4,)
print("by hand     :", scores_by_hand.cpu().numpy().round(5))
print("score_images:", score_images(G, images[:4].to(device)).cpu().numpy().round(5))

# %% [markdown]
# ## 3. Scoring the test set
#
# `score_test_set` scores every image, then averages the scores of images that share an *id*:
# the file name up to `__`. A study stored as several slices (`case7__slice01.png`,
# `case7__slice02.png`, …) gets one score, as in the authors' evaluation. Our phantoms have one
# image per id, so nothing is merged here; a toy example shows the rule:

# %%
from sagan_lib.data import image_id
from sagan_lib.scoring import average_by_id, score_test_set

toy_files = ["case7__slice01.png", "case7__slice02.png", "case9.png"]
toy_ids = [image_id(name) for name in toy_files]
print(toy_ids, "→", average_by_id(toy_ids, [0.10, 0.30, 0.05], [1, 1, 0]))

result = score_test_set(G, test_set, config.num_patch, device=device, progress=False)
print(f"\n{len(result.image_scores)} images → {len(result.ids)} ids; fields: ids, scores, labels, image_scores, report")
print(result.report)

# %% [markdown]
# ## 4. ROC and precision-recall curves
#
# Lowering a threshold $t$ on the score flags more images as abnormal. The **ROC curve** plots,
# for every $t$, the true positive rate (sensitivity, abnormal images caught) against the false
# positive rate (1 − specificity, normal images flagged); its area **AUC** is the probability that
# a random abnormal image scores higher than a random normal one. The **precision-recall curve**
# plots how many flagged images are really abnormal against how many abnormal ones are caught;
# its summary **AP** depends on the share of abnormal images (the dashed chance line), which makes
# it the stricter number when abnormal cases are rare.

# %%
from anomaly_lib.figures import roc_pr_figure

figure = roc_pr_figure(result.labels, result.scores, result.report,
                       title=f"SAGAN on {SOURCE} ({trainer.iteration} iterations)")
show_figure(figure, "roc_pr", OUT)

# %% [markdown]
# ## 5. Two ways to pick a cutoff
#
# AUC and AP don't need a threshold; a clinical decision does. `roc_report` reads two off the ROC
# curve:
#
# - **the authors' cutoff**: the threshold where sensitivity and specificity are closest to
#   equal, $\arg\min_t \lvert \mathrm{TPR}(t) - (1 - \mathrm{FPR}(t)) \rvert$: the point where the
#   ROC curve crosses the anti-diagonal;
# - **Youden's J**: the threshold with the largest $J = \mathrm{TPR}(t) - \mathrm{FPR}(t)$ =
#   sensitivity + specificity − 1: the point farthest above the chance line. It may trade a lot of
#   one for a little more of the other.
#
# They often coincide and sometimes don't. Note that both are read off the *test* curve, so the
# sensitivity and specificity reported at them are optimistic in the same way as test-set model
# selection (notebook 05); a deployed system fixes its threshold on validation data.

# %%
for name, point in [("authors' cutoff", result.report.authors_cutoff), ("Youden's J", result.report.youden)]:
    print(f"{name:<16} threshold {point.threshold:.5f}: sensitivity {point.sensitivity:.3f}, "
          f"specificity {point.specificity:.3f}, accuracy {point.accuracy:.3f}, F1 {point.f1:.3f}")
    print("   confusion [[TN, FP], [FN, TP]] =", point.confusion.tolist())

fig, ax = plt.subplots(figsize=(8, 3.6), layout="constrained")
bins = np.linspace(result.scores.min(), result.scores.max(), 30)
ax.hist(result.scores[result.labels == 0], bins=bins, alpha=0.6, label="normal")
ax.hist(result.scores[result.labels == 1], bins=bins, alpha=0.6, label="abnormal")
ax.axvline(result.report.authors_cutoff.threshold, color="black", ls="--", label="authors' cutoff")
ax.axvline(result.report.youden.threshold, color="tab:red", ls=":", lw=2, label="Youden's J")
ax.set_xlabel("anomaly score  mean |x − G(x)| / 2")
ax.set_ylabel("images")
ax.legend()
ax.set_title("score distributions and the two cutoffs")
show_figure(fig, "score_histogram", OUT)

# %% [markdown]
# ## 6. Heatmaps: where is the anomaly?
#
# `reconstruction_panel` shows, per image: the input, the reconstruction, the difference map (one
# colour scale for all rows, so a brighter row really has a larger error), and the map overlaid on
# the input (scaled per image, to show *where*). Below: the three highest-scoring abnormal images
# and the three highest-scoring normal ones, the normals most likely to be false alarms.

# %%
from anomaly_lib.figures import reconstruction_panel

order = np.argsort(-result.image_scores)
chosen = [i for i in order if labels[i] == 1][:3] + [i for i in order if labels[i] == 0][:3]
chosen_rec, chosen_maps = reconstruct(G, images[chosen].to(device))
titles = [f"{'abnormal' if labels[i] else 'normal'}, score {result.image_scores[i]:.4f}" for i in chosen]
show_figure(reconstruction_panel(images[chosen], chosen_rec, chosen_maps, titles=titles), "reconstruction_panel", OUT)

# %% [markdown]
# Look at the overlay column of the normal rows: stretched to its own range (its colour bar says
# so), each normal map looks as hot as a lesion, although its difference map is dim. Given a
# `scale`, every overlay uses the same colours; here from 0 to the largest error of the six maps,
# so a colour means the same error in every row. The line under the figure counts the red pixels
# (the top third of the scale) in the abnormal rows and in the normal ones. From here on every heatmap of the course follows one rule: it says
# on a colour bar what its scale is, and SAGAN's cutoff, which applies to the *mean* of a map, is
# named in the colour bar's label but never drawn as if it were a pixel cutoff (the README's figure
# and `--mode predict` do the same).

# %%
from anomaly_lib.heatmaps import shared_scale

one_scale = shared_scale(None, largest=float(chosen_maps.max()))
print("overlay scale:", one_scale.describe())
show_figure(reconstruction_panel(images[chosen], chosen_rec, chosen_maps, titles=titles, scale=one_scale),
            "reconstruction_panel_one_scale", OUT)
red = chosen_maps.detach().cpu() >= one_scale.low + 2 / 3 * (one_scale.high - one_scale.low)  # (6, 1, H, W)
chosen_abnormal = torch.tensor([bool(labels[i]) for i in chosen])  # (6,) which rows are abnormal
print(f"red pixels (top third of the scale): {red[chosen_abnormal].float().mean().item():.2%} of the abnormal "
      f"rows, {red[~chosen_abnormal].float().mean().item():.2%} of the normal rows")

# %% [markdown]
# The phantoms come with their true lesion masks (`masks/` in the dataset folder), which real data
# rarely has. Overlaying the map (`overlay_heatmap`: jet colours, red = large error, one scale for
# all the images shown, from 0 to their largest error) with the mask's outline shows whether the
# error sits on the lesion. As numbers (notebook 11 and `compare` report the same two):
#
# - **pixel AUROC**: every pixel of every test image is a sample, lesion pixels are the positives,
#   so a map that glows on normal images is penalised too;
# - **AUPRO**: for a cutoff, each lesion's overlap is the share of its pixels above it (a small
#   lesion counts as much as a large one); the mean overlap is integrated against the share of
#   normal pixels above the cutoff, up to 0.3, and divided by 0.3 (1 = perfect).
#
# The image AUC beside them answers another question: whether the right *images* score high.

# %%
from anomaly_lib.compare import load_masks
from anomaly_lib.figures import add_scale_colourbar
from anomaly_lib.heatmaps import overlay_heatmap
from anomaly_lib.metrics import aupro, pixel_auroc

abnormal = [i for i in order if labels[i] == 1]
_, test_maps = reconstruct(G, images.to(device))  # (N, 1, 64, 64): every test image's map
test_maps = test_maps[:, 0].cpu().numpy()  # (N, 64, 64)
test_masks = load_masks(DATA, test_set.paths, images.shape[-1])  # (N, 64, 64) bool, as compare reads them
if test_masks is None:  # real images (USE_MEDMNIST): no lesion masks to compare with
    print("no lesion masks in this dataset, so the maps cannot be scored against lesions here")
else:
    localisation = {"image AUC": result.report.auc, "pixel AUROC": pixel_auroc(test_maps, test_masks),
                    "AUPRO (FPR ≤ 0.3)": aupro(test_maps, test_masks)}
    print(f"over {len(images)} test images ({len(abnormal)} with a lesion): "
          + ", ".join(f"{name} {value:.3f}" for name, value in localisation.items()))
    assert test_masks[labels == 0].sum() == 0 and all(test_masks[i].any() for i in abnormal)  # negatives and positives as said

    abnormal_maps = torch.from_numpy(test_maps[abnormal])[:, None]  # (n, 1, 64, 64): the abnormal images' maps
    shown_ids = abnormal[:: max(1, len(abnormal) // 5)][:5]  # spread over the score range, highest first
    shown_maps = abnormal_maps[[abnormal.index(i) for i in shown_ids]].cpu()  # (n, 1, 64, 64)
    mask_scale = shared_scale(result.report.authors_cutoff.threshold, largest=float(shown_maps.max()), centre=False)
    print("overlay scale:", mask_scale.describe())
    fig, axes = plt.subplots(2, len(shown_ids), figsize=(2.6 * len(shown_ids), 5.4), layout="constrained")
    for col, i in enumerate(shown_ids):
        k = abnormal.index(i)
        axes[0, col].imshow(images[i, 0], cmap="gray", vmin=-1, vmax=1)
        axes[0, col].contour(test_masks[i], levels=[0.5], colors="red", linewidths=1)
        axes[0, col].set_title(f"score {result.image_scores[i]:.4f}", fontsize=10)
        axes[1, col].imshow(overlay_heatmap(images[i], abnormal_maps[k].cpu(), scale=mask_scale))
        axes[1, col].contour(test_masks[i], levels=[0.5], colors="white", linewidths=1)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].set_ylabel("input + true lesion")
    axes[1, 0].set_ylabel("heatmap overlay")
    add_scale_colourbar(fig, axes[1, :], mask_scale, "pixel anomaly |x − G(x)| / 2")
    fig.suptitle("abnormal test images from the highest score (left) down")
    show_figure(fig, "heatmaps_vs_masks", OUT)

# %% [markdown]
# ## 7. A threshold slider
#
# Drag the threshold and watch the decision change: every image scoring at or above it is called
# abnormal. `operating_point(labels, scores, threshold)` returns the confusion matrix, sensitivity,
# specificity, accuracy and F1 at that threshold. The slider starts at the authors' cutoff. (Where
# widgets cannot run, e.g. on GitHub or under the tests, you see the figure for that default.)

# %%
import ipywidgets as widgets
from matplotlib.figure import Figure

from anomaly_lib.colab import enable_widgets, show_widget
from anomaly_lib.metrics import operating_point


def operating_figure(threshold):
    """Score histogram with the threshold, and the confusion matrix it gives."""
    point = operating_point(result.labels, result.scores, threshold)
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    hist_ax, matrix_ax = fig.subplots(1, 2, width_ratios=[1.6, 1])
    hist_ax.hist(result.scores[result.labels == 0], bins=bins, alpha=0.6, label="normal")
    hist_ax.hist(result.scores[result.labels == 1], bins=bins, alpha=0.6, label="abnormal")
    hist_ax.axvline(threshold, color="black", lw=2, label=f"threshold {threshold:.4f}")
    hist_ax.set_xlabel("anomaly score")
    hist_ax.set_ylabel("images")
    hist_ax.legend(fontsize=8)
    matrix_ax.imshow(point.confusion, cmap="Blues", vmin=0, vmax=max(1, point.confusion.sum(axis=1).max()))
    names = [["TN", "FP"], ["FN", "TP"]]
    for row in range(2):
        for col in range(2):
            value = point.confusion[row, col]
            matrix_ax.text(col, row, f"{names[row][col]}\n{value}", ha="center", va="center", fontsize=13,
                           color="white" if value > point.confusion.max() / 2 else "black")
    matrix_ax.set_xticks([0, 1], ["normal", "abnormal"])
    matrix_ax.set_yticks([0, 1], ["normal", "abnormal"])
    matrix_ax.set_xlabel("predicted")
    matrix_ax.set_ylabel("true")
    fig.suptitle(f"sensitivity {point.sensitivity:.2f} · specificity {point.specificity:.2f} · "
                 f"accuracy {point.accuracy:.2f} · F1 {point.f1:.2f}")
    return fig


def figure_png(threshold):
    buffer = io.BytesIO()
    operating_figure(threshold).savefig(buffer, format="png", dpi=100)
    return Image(buffer.getvalue())


enable_widgets()  # lets ipywidgets 8 draw in Colab; does nothing elsewhere
low, high = float(result.scores.min()), float(result.scores.max())
slider = widgets.FloatSlider(value=result.report.authors_cutoff.threshold, min=low, max=high,
                             step=(high - low) / 200 or 1e-6, readout_format=".4f", description="threshold",
                             continuous_update=False, layout=widgets.Layout(width="600px"))
default_png = figure_png(slider.value)
(OUT / "threshold_default.png").write_bytes(default_png.data)
show_widget(slider, f"(a threshold slider, here at {slider.value:.4f}: run the notebook to move it)")
figure_handle = display(default_png, display_id=True)  # replaced on every change
slider.observe(lambda change: figure_handle.update(figure_png(change["new"])), names="value")

# %% [markdown]
# ## 8. Scoring with the authors' published checkpoints
#
# The authors released trained generators for RSNA, VinDr-CXR and LAG (`SAGAN_G_*.ckpt`) in their
# GitHub repository for the paper. Each file is a plain generator state dict at the published size
# (the defaults of `Generator()`), and the kit's `Generator()` has exactly the same keys and shapes,
# so they load with `strict=True`. They can't be downloaded from inside this
# notebook; get them from the authors' repository and put them next to your data.
#
# The key list of the published files ships with the kit's tests; our generator matches it
# key for key:

# %%
from sagan_lib import Generator

shapes_file = Path("..") / "tests" / "fixtures" / "sagan_state_dict_shapes.json"
published = json.loads(shapes_file.read_text())["Generator(conv_dim=64, c_dim=0, repeat_num=6, num_memory=4)"]
ours = {key: list(value.shape) for key, value in Generator().state_dict().items()}
print(f"published keys: {len(published)}, ours: {len(ours)}, identical keys and shapes: {ours == published}")
assert ours == published, "the prose says the published checkpoints load with strict=True"

# %% [markdown]
# The code path is the same for any such file. We save our phantom generator in exactly that
# format (a bare state dict) and load it back with `load_generator_checkpoint`, giving the
# network size when it isn't the default. For the authors' files the defaults are right:
# `load_generator_checkpoint("SAGAN_G_RSNA.ckpt")`.

# %%
from sagan_lib.weights import load_generator_checkpoint

plain = OUT / "SAGAN_G_phantoms.ckpt"
torch.save(G.state_dict(), plain)  # the published format: {key: tensor}, nothing else
loaded = load_generator_checkpoint(plain, conv_dim=config.g_conv_dim, repeat_num=config.g_repeat_num).to(device)
again = score_test_set(loaded, test_set, config.num_patch, device=device, progress=False)
print(f"reloaded from {plain.name}: AUC {again.report.auc:.4f} (before: {result.report.auc:.4f})")

# %% [markdown]
# If the sizes don't match, the error lists the mismatching keys and the configuration the file's
# shapes suggest:

# %%
try:
    load_generator_checkpoint(plain)  # the full-size defaults: wrong for our small network
except ValueError as error:
    print(str(error)[:900])

# %% [markdown]
# From a terminal, testing uses the authors' flag names plus `--data_root` and `--checkpoint`:
#
# ```bash
# python -m sagan_lib --mode test --dataset rsna --data_root /path/to/medad --checkpoint SAGAN_G_RSNA.ckpt
# ```
#
# (`--dataset rsna` looks for `DATA_ROOT/RSNA/`; `vincxr` and `lag` likewise; `folder` uses
# `DATA_ROOT` itself.) It prints the report, saves the ROC/PR figure and a heatmap panel under
# `--save_dir`, and `--report_json` writes the numbers to a file. Here is the same command on our
# phantom folder and checkpoint, run in-process:

# %%
from sagan_lib.cli import main as sagan_cli

args = ["--mode", "test", "--dataset", "folder", "--data_root", str(DATA), "--checkpoint", str(plain),
        "--g_conv_dim", str(config.g_conv_dim), "--g_repeat_num", str(config.g_repeat_num),
        "--save_dir", str(OUT / "cli"), "--report_json", str(OUT / "cli" / "report.json"), "--quiet"]
print("python -m sagan_lib " + " ".join(args) + "\n")
exit_code = sagan_cli(args)

# %% [markdown]
# ## Summary
# - Score: $d = |x - G(x)|/2$ per pixel, the image's mean, averaged per study id.
# - AUC and AP summarise all thresholds; the authors' cutoff balances sensitivity and specificity,
#   Youden's J maximises their sum; both are read off the test curve.
# - The difference map is the heatmap: it should light up on lesions and stay dark on normal
#   anatomy.
# - The published `SAGAN_G_*.ckpt` files are plain state dicts with the kit's keys:
#   `load_generator_checkpoint(path)` or `python -m sagan_lib --mode test … --checkpoint path`.

# %% [markdown]
# ## Exercises
#
# Write your answer down before you open a solution. Each solution is hidden:
# run its cell, then open *Show the solution* for its code and what it prints.
#
# ### Exercise 1 · The perfect reconstruction
# A "generator" that returns its input unchanged reconstructs every image perfectly. Predict its
# anomaly scores and its test AUC. What is the largest score any generator can produce, and for
# which image?

# %% cellView="form" jupyter={"source_hidden": true} tags=["solution"]
# @title Solution to exercise 1 (run it: the answer stays folded until you open it)
run_solution("06", 1)

# %% [markdown]
# ### Exercise 2 · The cutoff on another split
# Section 5 reads the authors' cutoff off the test curve itself. Split the test images at random
# into two halves with the same share of abnormal images. Choose the authors' cutoff on half A and
# apply it to half B; compare with the cutoff chosen on B and applied to B. Predict which one is
# better balanced and which one you can trust, then average over many random splits.

# %% cellView="form" jupyter={"source_hidden": true} tags=["solution"]
# @title Solution to exercise 2 (run it: the answer stays folded until you open it)
run_solution("06", 2)

# %% [markdown]
# ### Exercise 3 · Mean or maximum?
# The image score is the *mean* of the difference map. A lesion covers a small part of the image.
# Would the *maximum* of the map, or the mean of its top 1 % of pixels, separate the classes
# better? Predict, then compare the AUCs on the test images.

# %% cellView="form" jupyter={"source_hidden": true} tags=["solution"]
# @title Solution to exercise 3 (run it: the answer stays folded until you open it)
run_solution("06", 3)

# %% [markdown]
# ### Exercise 4 · Why average per study?
# Section 3 averages the scores of images that share an id before computing the AUC. Give two
# reasons, and say what would happen to the AUC if one abnormal study with 10 slices were counted
# as 10 separate images.
#
# <details><summary>Solution</summary>
#
# - **The decision is per study.** A radiologist reports on a patient's study, not on one slice, so
#   the evaluation should count each study once.
# - **Slices of one study are not independent.** They share the patient, the scanner and the
#   lesion. Counted one by one, that study enters the AUC ten times: every pair it forms with a
#   normal study is counted ten times over, so if the model scores it well (or badly) the AUC moves
#   as if ten patients had been scored well (or badly). The result depends on how many slices each
#   study happens to have, and the sample looks larger than it is.
#
# </details>
