# %% [markdown]
# # 05 · Training SAGAN
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/anomaly-course-kit/anomaly-course-kit/blob/main/notebooks/05_sagan_training.ipynb) [![Read it rendered](https://img.shields.io/badge/read-rendered-2ea44f)](https://anomaly-course-kit.github.io/anomaly-course-kit/05_sagan_training.html)
#
# **Learning goals**
# - Train SAGAN on phantoms with `SaganTrainer`, `MedADTrainSet` and a `SaganConfig`, and read
#   its loss curves.
# - Measure the time per 1,000 iterations on your device, for the phantom run and for the
#   authors' full configuration, before committing to a long run.
# - Keep checkpoints in Google Drive (optional) and resume automatically after Colab disconnects.
# - Choose the checkpoint to keep (`select_on`: last, synthetic-val, test) and explain why picking
#   it on the test set leaks.

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
import math
import time
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display

from anomaly_lib.colab import enable_widgets
from anomaly_lib.figures import show_figure

enable_widgets()  # lets the progress bars draw in Colab; does nothing elsewhere
OUT = Path("outputs") / "05_sagan_training"
OUT.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## 1. Phantom data in the Med-AD layout
#
# The same folder layout as RSNA, VinDr-CXR and LAG (notebook 01), filled with phantom chest
# images. The counts and the lesion size are the CLI demo's (`python -m sagan_lib --mode demo`):
# `DEMO_COUNTS`, and lesions enlarged by `DEMO_LESION_SCALE` because, as the demo's code notes, a
# few hundred CPU iterations are enough to see lesions of that size, while the phantoms' default
# size needs longer training. Both are printed below; smoke mode uses fewer images.
#
# **Real chest X-rays instead:** set `USE_MEDMNIST = True` (on Colab, or any machine online) and the
# same cells train on PneumoniaMNIST at 64 px (pediatric chest X-rays, normal vs pneumonia;
# downloaded once and checked against MedMNIST's MD5), with the same number of labeled normals.
# Offline the cell says so and keeps the phantoms. `data/README.md` gives MedMNIST's licence.

# %%
from anomaly_lib.medmnist import medmnist_or_phantoms
from sagan_lib.demo import DEMO_COUNTS, DEMO_LESION_SCALE

USE_MEDMNIST = False  # True: real pediatric chest X-rays (PneumoniaMNIST) when online
if SMOKE:
    counts = {"train_normal": 24, "unlabeled_normal": 10, "unlabeled_abnormal": 14, "test_normal": 8, "test_abnormal": 8}
else:
    counts = DEMO_COUNTS
DATA, SOURCE = medmnist_or_phantoms(USE_MEDMNIST, OUT / "data", "medad", 64, counts,
                                    phantoms={"lesion_scale": DEMO_LESION_SCALE})
print(DATA, "| lesion_scale", DEMO_LESION_SCALE if SOURCE == "phantoms" else "(real images: no phantom lesions)")

# %% [markdown]
# ## 2. The configuration
#
# `SaganConfig` holds every setting; its defaults are the authors' `main.py`. Their full run trains
# a generator and a critic of tens of millions of parameters each (notebook 03) for `num_iters`
# iterations: a job for a GPU (section 4 measures how long it takes on your device). To see
# the whole story in minutes we keep the recipe and shrink it, as the CLI demo does
# (`sagan_lib.demo.DEMO_CONFIG`): narrower networks, fewer residual blocks and iterations, and a
# larger learning rate for the short run.
#
# This notebook starts from the demo's settings and adds label-free model selection: it holds out
# some labeled normals (`val_holdout`, section 7) and keeps every snapshot, so we can compare
# selection rules afterwards. The run's length depends on where it runs: the CLI demo's on a CPU,
# longer on a GPU, a few iterations in smoke mode. The table lists every setting that differs from
# the authors' somewhere, read from the objects.

# %%
from sagan_lib.config import SaganConfig
from sagan_lib.demo import DEMO_CONFIG

authors = SaganConfig()
base = dict(DEMO_CONFIG, select_on="synthetic-val", val_holdout=16, keep_last=0)
RUNS = {  # this notebook's run, by where it runs
    "CPU": dict(base, log_step=100, model_save_step=100),  # the demo's length
    "GPU": dict(base, num_iters=2000, num_iters_decay=1000, log_step=200, model_save_step=200),
    "smoke mode": dict(base, batch_size=4, num_iters=4, num_iters_decay=2, log_step=2, model_save_step=2,
                       lr_update_step=1, val_holdout=4),
}
RUN_KIND = "smoke mode" if SMOKE else ("GPU" if device.type == "cuda" else "CPU")
RUN_NAME = "smoke" if SMOKE else ("phantoms" if SOURCE == "phantoms" else "medmnist")  # one run folder per dataset
settings = RUNS[RUN_KIND]

columns = {"the authors": {}, "CLI demo": DEMO_CONFIG, **{f"here, {kind}": run for kind, run in RUNS.items()}}
differ = [name for name in authors.to_dict() if name != "dataset"
          and any(name in run and run[name] != getattr(authors, name) for run in columns.values())]
rows = ["| setting | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
for name in differ:
    rows.append(f"| `{name}` | " + " | ".join(str(run.get(name, getattr(authors, name))) for run in columns.values()) + " |")
display(Markdown("\n".join(rows)))
print(f"this run: {RUN_KIND}")

# %% [markdown]
# ## 3. Where the checkpoints go: a local folder or Google Drive
#
# A Colab runtime is wiped when it disconnects. To survive that, keep the checkpoints in your
# Google Drive: set `USE_DRIVE = True` (on Colab only; you will be asked to authorise access).
# Otherwise they go to `outputs/05_sagan_training/` next to this notebook.
#
# The trainer writes, every `model_save_step` iterations and at the end, atomically (a temporary
# file, then a rename, so a disconnect mid-write can't corrupt it):
# - `last.ckpt`: everything needed to resume (both networks, both optimisers, the iteration, the
#   config, the random-generator states, the data order, the history);
# - `{iteration}-G.ckpt`: the generator alone, a plain state dict in the authors' format;
# - `best-G.ckpt` when `select_on` is not `last` (section 7).
#
# The loop and `last.ckpt` belong to the kit's one training engine (`anomaly_lib/engine.py`:
# `train_loop` and `Run`), which SWSSL and the autoencoder run on too. `SaganTrainer` gives it
# one iteration (`run_unit`, which calls `sagan_step` from `sagan_lib/step.py`), its two networks,
# and the rest of what a resume needs (optimisers, data order, the float16 scales).

# %%
USE_DRIVE = False  # True: keep checkpoints in Google Drive (Colab only)

if USE_DRIVE and "google.colab" in sys.modules:
    from google.colab import drive

    drive.mount("/content/drive")
    RUN_DIR = Path("/content/drive/MyDrive/anomaly-course-kit/05_sagan_training") / RUN_NAME
else:
    RUN_DIR = OUT / RUN_NAME
config = SaganConfig(data_root=str(DATA), model_save_dir=str(RUN_DIR / "models"),
                     sample_dir=str(RUN_DIR / "samples"), save_dir=str(RUN_DIR / "results"), **settings)
print("checkpoints go to", config.model_save_dir)

# %% [markdown]
# ## 4. How long will it take? Measure, then extrapolate
#
# First the datasets. Then the clock: one iteration is a critic step, plus a generator step every
# `n_critic`-th iteration, so we time a multiple of `n_critic` iterations after two warm-up
# iterations (the first steps pay one-off costs). On a GPU the clock is read after
# `torch.cuda.synchronize()`, because GPU work is asynchronous. The authors' full configuration is
# timed too, at their batch size (skipped in smoke mode).

# %%
from anomaly_lib.layouts import read_medad
from sagan_lib.data import MedADTestSet, MedADTrainSet
from sagan_lib.train import SaganTrainer

train_set = MedADTrainSet(DATA, config.image_size, config.ar, config.core_percent, holdout=config.val_holdout,
                          progress=False)
test_set = MedADTestSet(DATA, config.image_size, progress=False)
print(f"{len(train_set)} training pairs, {len(train_set.heldout_normals)} held-out normals, {len(test_set)} test images")

abnormal_files = set(read_medad(DATA)["unlabeled_abnormal"])
pool_abnormal = sum(path in abnormal_files for path in train_set.unlabeled_paths)
pool_size = len(train_set.unlabeled_paths)
print(f"unlabeled pool: {pool_abnormal} abnormal of {pool_size} = {pool_abnormal / pool_size:.1%} "
      f"(ar = {config.ar} before the hold-out)")

# %% [markdown]
# The pool's abnormal share stays at `ar` (up to rounding down). `MedADTrainSet` keeps item $i$ =
# (unlabeled $i$, normal $i$), and it builds the authors' mix for the $N - h$ labeled normals that
# train ($h$ = `val_holdout`): $\lfloor (N-h)\cdot ar \rfloor$ abnormal images, then normal ones.
# Cutting the last $h$ images off the full mix instead would drop normal images only (the mix lists
# its abnormal images first, notebook 01) and push the share above `ar`. Exercise 1 compares both.

# %%
def sync():
    if device.type == "cuda":
        torch.cuda.synchronize()


def seconds_per_iteration(cfg, iterations, warmup=2):
    """Average seconds of `iterations` (a multiple of n_critic) iterations, after `warmup` untimed ones."""
    timing = SaganTrainer(SaganConfig(**{**cfg.to_dict(), "select_on": "last"}), train_set, log=lambda *_: None)
    for _ in range(warmup):
        timing.train_step()
    sync()
    start = time.perf_counter()
    for _ in range(iterations):
        timing.train_step()
    sync()
    return (time.perf_counter() - start) / iterations


full = SaganConfig(data_root=str(DATA), device=config.device)  # the authors' settings
timings = {"this run": (config, seconds_per_iteration(config, 2, warmup=0) if SMOKE else seconds_per_iteration(config, 10))}
if not SMOKE:
    timings["authors' full config"] = (full, seconds_per_iteration(full, 10 if device.type == "cuda" else 2))

print(f"on {describe_device(device)}:")
for name, (cfg, seconds) in timings.items():
    hours = seconds * cfg.num_iters / 3600
    print(f"  {name:<21} {seconds:6.3f} s/iteration = {seconds * 1000 / 60:6.1f} min per 1,000 iterations"
          f" → {cfg.num_iters:,} iterations ≈ {hours:5.2f} h ({hours / 24:.1f} days)")

# %% [markdown]
# How to read these lines: the last number of the "authors' full config" line is what their
# recipe would cost on this device, and on a CPU it is far too long; that is why the full recipe
# needs a GPU. The "this run" line is what the cell below will take. The measurement is short,
# and on a busy or shared machine every number grows, so measure on the machine you will train on.
# (`benchmarks/sagan_train_step.py` compares the kit's loop with the authors' at equal settings;
# the kit does the same maths with less work.)
#
# ## 5. Train, resuming automatically
#
# The cell below is safe to re-run after a disconnect: if `last.ckpt` exists in the run folder it
# loads it (networks, optimisers, iteration, random states, data order) and continues from there;
# a finished run does nothing. While training, the progress bar shows the latest losses, and with
# `select_on="synthetic-val"` each `log_step` prints the validation AUC.

# %%
torch.manual_seed(0)
trainer = SaganTrainer(config, train_set, log=print)
if trainer.checkpoint_path.is_file():
    trainer.load()  # resume after a disconnect (or re-running the notebook)
start = time.time()
trainer.train(progress=not SMOKE)
print(f"iteration {trainer.iteration} of {config.num_iters}; this call took {time.time() - start:.0f} s")

# %% [markdown]
# What resuming restores, seen from a fresh trainer, as after a disconnect:

# %%
state = torch.load(trainer.checkpoint_path, map_location="cpu", weights_only=True)
print("last.ckpt holds:", ", ".join(state))
fresh = SaganTrainer(config, train_set, log=print)
fresh.load()
same = all(torch.equal(a, b) for a, b in zip(fresh.G.state_dict().values(), trainer.G.state_dict().values()))
print("same generator weights:", same, "| same iteration:", fresh.iteration == trainer.iteration)
from anomaly_lib.engine import Run, train_loop  # noqa: E402

assert issubclass(SaganTrainer, Run) and set(fresh.networks()) == {"G", "D"} and "sagan_step" in SaganTrainer.run_unit.__code__.co_names
print(f"SaganTrainer is an engine Run with networks {sorted(fresh.networks())}; the loop is "
      f"{train_loop.__module__}.{train_loop.__name__}")

# %% [markdown]
# From a terminal, a run on a Med-AD folder and its resumption are
# `python -m sagan_lib --mode train --dataset folder --data_root DIR --model_save_dir DIR/models`
# and the same command with `--resume`. Without further flags that trains the authors' full
# configuration; flags named like the `SaganConfig` fields (`--g_conv_dim`, `--num_iters`, …, see
# `--help`) shrink it, e.g. to this notebook's settings.
#
# ## 6. Loss curves
#
# `trainer.history` holds one entry per `log_step`: the mean of each loss over those iterations.
#
# - **Critic.** $-(\text{loss\_real} + \text{loss\_fake}) = \mathbb{E}[D(x_B)] - \mathbb{E}[D(G(x_A))]$ is the
#   critic's estimate of the Wasserstein distance between normals and reconstructions. In a
#   healthy run it rises quickly while the critic learns, then falls as the generator catches up.
#   The gradient penalty starts near 1 (gradient norms near 0 at initialisation, notebook 04) and
#   should drop as the norms approach 1; each point of the curves is already the mean over
#   `log_step` iterations.
# - **Generator.** The identity (L1) and anomaly-removal (MSE) terms should fall; the adversarial
#   term $-\mathbb{E}[D(G(x_A))]$ has no fixed scale (the critic's scores are unbounded) and moves
#   with the critic.
#
# Those are expectations. The lines under the figure say what this run's curves did, from their
# first, largest and last logged values (a smoke run logs too few points to show anything).

# %%
history = trainer.history
steps = [entry["iteration"] for entry in history]


def curve(name):
    return [entry.get(name, float("nan")) for entry in history]


fig, axes = plt.subplots(1, 3, figsize=(15, 3.8), layout="constrained")
wasserstein = [-(real + fake) for real, fake in zip(curve("D/loss_real"), curve("D/loss_fake"))]
axes[0].plot(steps, wasserstein, "o-", label="E[D(x_B)] − E[D(G(x_A))]")
axes[0].plot(steps, curve("D/loss_gp"), "s-", label="gradient penalty GP")
axes[0].set_title("critic")
axes[1].plot(steps, curve("G/loss_id"), "o-", label="identity  mean|x_B − G(x_B)|")
axes[1].plot(steps, curve("G/loss_mse"), "s-", label="anomaly removal  mean(x_B − G(x_B'))²")
axes[1].set_title("generator: reconstruction terms")
axes[2].plot(steps, curve("G/loss_fake"), "o-", color="tab:red", label="adversarial  −E[D(G(x_A))]")
axes[2].set_title("generator: adversarial term")
for ax in axes:
    ax.set_xlabel("iteration")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
show_figure(fig, "loss_curves", OUT)


def what_it_did(values) -> str:
    """First, largest and last logged value of a curve, and whether the last is below the first."""
    values = [v for v in values if math.isfinite(v)]
    if len(values) < 3:
        return f"only {len(values)} logged point(s), too few to tell"
    peak = max(range(len(values)), key=values.__getitem__)  # index of the largest value
    return (f"first {values[0]:.3g}, largest {values[peak]:.3g} (point {peak + 1} of {len(values)}), last "
            f"{values[-1]:.3g}: " + ("ended below its start" if values[-1] < values[0] else "did not end below its start"))


for name, values in [("critic's Wasserstein estimate", wasserstein), ("gradient penalty", curve("D/loss_gp")),
                     ("identity term", curve("G/loss_id")), ("anomaly-removal term", curve("G/loss_mse"))]:
    print(f"{name:<30} {what_it_did(values)}")

# %% [markdown]
# `save_samples` writes a picture of eight unlabeled training images (top) and their
# reconstructions (bottom); the trainer also calls it every `sample_step` iterations. Lesions in
# the top row should be fainter or gone in the bottom row, while the anatomy stays. Faint seams
# along the middle row and column are the window borders: each window is reconstructed on its own.

# %%
samples = plt.imread(trainer.save_samples())  # a grid of 2 × 8 images, 64×64 each
fig, ax = plt.subplots(figsize=(14, 4), layout="constrained")
ax.imshow(samples)
ax.set_axis_off()
ax.set_title(f"top: unlabeled training images · bottom: their reconstructions (iteration {trainer.iteration})")
show_figure(fig, "samples", OUT)

# %% [markdown]
# ## 7. Which checkpoint to keep
#
# A GAN's loss doesn't say when the generator is best, so something has to pick a checkpoint.
# `SaganConfig.select_on` offers three rules:
#
# | `select_on` | picks | uses test labels? |
# |---|---|---|
# | `last` (default) | the final iteration | no |
# | `synthetic-val` | best AUC of held-out labeled normals against the same images with synthetic anomalies | no |
# | `test` | best test AUC and AP, evaluated every `log_step` (the authors' code) | **yes** |
#
# Selecting on the test set is a leak: the test set is used to make a decision about the model,
# so it is no longer an independent measurement. With $K$ checkpoints, the best of $K$ noisy test
# AUCs is biased upwards, and the more often you evaluate, the larger the bias. The reported
# number then describes a choice that nobody could have made without the test labels. Let's
# compare the three rules on our snapshots.

# %%
from sagan_lib.scoring import score_test_set
from sagan_lib.train import synthetic_validation
from sagan_lib.weights import load_generator_checkpoint

numbered = [p for p in Path(config.model_save_dir).glob("*-G.ckpt") if p.name.split("-")[0].isdigit()]
snapshots = sorted(numbered, key=lambda p: int(p.name.split("-")[0]))  # 100-G.ckpt, 200-G.ckpt, …
rows = []
for path in snapshots:
    G = load_generator_checkpoint(path, conv_dim=config.g_conv_dim, repeat_num=config.g_repeat_num,
                                  num_memory=config.num_memory).to(device)
    val = synthetic_validation(G, train_set.heldout_normals, config, device)
    test = score_test_set(G, test_set, config.num_patch, device=device, progress=False).report
    rows.append((int(path.name.split("-")[0]), val.auc, test.auc, test.ap))

print(f"{'iteration':>9} | {'synthetic-val AUC':>17} | {'test AUC':>8} | {'test AP':>7}")
for iteration, val_auc, test_auc, test_ap in rows:
    print(f"{iteration:>9} | {val_auc:>17.3f} | {test_auc:>8.3f} | {test_ap:>7.3f}")

by_rule = {
    "last": rows[-1],
    "synthetic-val": max(rows, key=lambda row: row[1]),
    "test (leaks)": max(rows, key=lambda row: (row[2], row[3])),
}
print()
for rule, (iteration, _, test_auc, test_ap) in by_rule.items():
    print(f"select_on={rule:<14} → iteration {iteration:>5}: test AUC {test_auc:.3f}, AP {test_ap:.3f}")
print(f"\nthe trainer's own synthetic-val choice: iteration {trainer.best['iteration']} (saved as best-G.ckpt)")
val_aucs = [val_auc for _, val_auc, _, _ in rows]
print(f"synthetic-val AUC over the snapshots: {min(val_aucs):.3f} to {max(val_aucs):.3f}")

# %% [markdown]
# By construction the `test` row shows the largest test AUC in the table: it was chosen for it.
# `last` and `synthetic-val` made their choice without looking at the test labels, so their test
# AUCs are honest estimates of what a deployed model would do; only those two can be reported.
#
# A label-free rule is only as good as its proxy. Look at the synthetic-val column and its range,
# printed under the table. If the values stay close to 0.5, the proxy cannot tell the snapshots
# apart, and its pick is close to random, whatever that snapshot's test AUC. That can happen on
# these phantoms: the pasted squares come from other normal phantoms, whose anatomy looks much
# like the original's, so a blended square changes the image very little and its reconstruction
# error is lost among the rest of the image. On real data, check that the validation AUC actually
# rises during training before trusting it; otherwise fix the training length in advance and keep
# `last`.
#
# The kit still offers the authors' rule, to reproduce the paper's numbers, and says so loudly:

# %%
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    SaganTrainer(SaganConfig(**{**config.to_dict(), "select_on": "test"}), train_set, test_set, log=lambda *_: None)
print(caught[0].category.__name__ + ":", caught[0].message)

# %% [markdown]
# ## 8. The full recipe on a Colab GPU
#
# To train the authors' configuration on real data (see `data/README.md` for getting and laying
# out RSNA, VinDr-CXR or LAG):
#
# 1. Runtime → Change runtime type → GPU. Put the Med-AD folder in Drive (or upload it).
# 2. Set `USE_DRIVE = True` above, so checkpoints survive disconnects.
# 3. Fill in the cell below and set `TRAIN_FULL = True`. Section 4's measurement of
#    "authors' full config" on your GPU tells you how long their `num_iters` take; if the session
#    ends, re-run the notebook and this cell resumes from `last.ckpt`.
#
# `amp=True` (mixed precision) and `channels_last=True` can speed the full configuration up on a
# GPU; measure with section 4 before a long run. `amp=True` picks the 16-bit type by GPU: bfloat16
# where the GPU computes it natively (A100, L4, H100), float16 with a gradient scaler on older GPUs
# such as Colab's T4, where bfloat16 would be emulated; on a CPU it keeps float32.
# `amp_dtype="bf16"` or `"fp16"` forces a type. The trainer prints its choice; for this device:

# %%
from anomaly_lib.amp import choose_amp_dtype

print("amp=True here gives", choose_amp_dtype(device, amp=True)[1])

# %%
TRAIN_FULL = False  # True: train the authors' configuration on your own Med-AD data
MEDAD_ROOT = Path("data")  # the folder holding RSNA/, VinCXR/ or LAG/ (each with images/ and data.json)

if TRAIN_FULL:
    from sagan_lib.cli import run_train

    full_dir = RUN_DIR.parent / "rsna_full"
    full_config = SaganConfig(dataset="rsna", data_root=str(MEDAD_ROOT), model_save_dir=str(full_dir / "models"),
                              sample_dir=str(full_dir / "samples"), save_dir=str(full_dir / "results"))
    resume = (full_dir / "models" / "last.ckpt").is_file()
    run_train(full_config, resume=resume)
else:
    print("TRAIN_FULL is False: nothing to do. The same run from a terminal:")
    print("  python -m sagan_lib --mode train --dataset rsna --data_root DATA --model_save_dir DIR/models [--resume]")

# %% [markdown]
# ## Summary
# - `SaganTrainer(config, MedADTrainSet(...))` runs the authors' update order; `config` is a
#   `SaganConfig` whose defaults are the paper's.
# - Measure seconds per iteration first (even count, after warm-up, synchronised on GPU); the full
#   recipe needs a GPU.
# - Keep checkpoints where they survive (Drive on Colab); re-running the training cell resumes
#   from `last.ckpt`.
# - Choose checkpoints without test labels (`last` or `synthetic-val`); `select_on="test"`
#   reproduces the paper but overstates the result.

# %% [markdown]
# ## Exercises
#
# Write your answer down before you open a solution. Each solution is hidden:
# run its cell, then open *Show the solution* for its code and what it prints.
#
# ### Exercise 1 · The pool after a hold-out
# Predict the size of the unlabeled pool and its abnormal share for a few hold-outs $h$, as formulas
# in $N$ (labeled normals), `ar` and $h$. Then predict the share if the last $h$ images were simply
# cut off the full mix. Which $h$ would leave that cut pool with no normal image at all? Check on
# this notebook's data.

# %% cellView="form" jupyter={"source_hidden": true} tags=["solution"]
# @title Solution to exercise 1 (run it: the answer stays folded until you open it)
run_solution("05", 1)

# %% [markdown]
# ### Exercise 2 · Why selecting on the test set leaks
# Suppose $K$ checkpoints are all equally good, but each one's test AUC is off by some random error
# (the test set is finite). You report the best of the $K$ test AUCs. Predict how the reported
# number changes as $K$ grows, then simulate it with as many test images as this notebook has.

# %% cellView="form" jupyter={"source_hidden": true} tags=["solution"]
# @title Solution to exercise 2 (run it: the answer stays folded until you open it)
run_solution("05", 2)

# %% [markdown]
# ### Exercise 3 · What a resume must restore
# `last.ckpt` stores the optimisers, the random-generator states and the data order, not only the
# two networks. For each of the three, what would differ after a resume that restored only the
# networks?
#
# <details><summary>Solution</summary>
#
# - **Optimiser states.** Adam keeps running averages of each weight's gradient and squared
#   gradient (and a step count for its bias correction). Without them the first steps after the
#   resume are sized as if training had just started: a jolt to a GAN that was in balance.
# - **Random-generator states.** Synthetic anomalies, the keep-masks and the gradient penalty's
#   interpolation weights are random draws. Without the saved states the resumed run draws
#   different ones, so it no longer matches an uninterrupted run and cannot be reproduced.
# - **Data order.** The trainer walks through a shuffled order of the training items. Without it
#   a resume starts a new pass: the images seen just before the break come again, others wait.
#
# With all three restored, an interrupted and resumed run gives the same weights as an
# uninterrupted one (up to GPU nondeterminism); the kit's tests check this.
#
# </details>

# %% [markdown]
# ### Exercise 4 · The two learning-rate decays
# `lr_decay="linear"` (the kit's default) lowers the rate to 0 over the last `num_iters_decay`
# iterations, but only every `lr_update_step` iterations, where it sets the rate to the straight
# line's value `lr · (num_iters − i) / num_iters_decay`: a staircase that follows the line down to 0.
# `"reference"` repeats the authors' rule: every `lr_update_step` iterations in that stretch,
# subtract `lr / num_iters_decay`. Run a tiny trainer for 6 iterations with
# `num_iters_decay=4` and `lr_update_step=2` under both rules and print the rate after each
# iteration. Then predict where the authors' own settings leave the rate at the end of their run.

# %% cellView="form" jupyter={"source_hidden": true} tags=["solution"]
# @title Solution to exercise 4 (run it: the answer stays folded until you open it)
run_solution("05", 4)
