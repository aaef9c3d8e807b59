# %% [markdown]
# # 10 · Interview companion: SAGAN and SWSSL
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/anomaly-course-kit/anomaly-course-kit/blob/main/notebooks/10_interview_quickref.ipynb) [![Read it rendered](https://img.shields.io/badge/read-rendered-2ea44f)](https://anomaly-course-kit.github.io/anomaly-course-kit/10_interview_quickref.html)
#
# **Learning goals**
# - Tell each method out loud in one minute and in twenty seconds, with every number filled in from the code.
# - Recite the shapes through SAGAN's generator and critic and SWSSL's patch model, from tables traced live.
# - Write every loss as a formula and point to the function that computes it.
# - Know where the specification notes are wrong or ambiguous, and show the evidence from the kit.
# - Define the vocabulary an interviewer expects, with formulas.
# - Rehearse with a mock interview of more than thirty questions, follow-ups included, and keep score.
#
# Nothing here trains; the notebook runs in seconds. Notebooks 01–09 explain each item in depth.
#
# Every answer that states a fact about the code or the maths is checked: `check(claim, holds,
# evidence)` asserts it and prints the computed value beside it, so a wrong card fails the notebook
# tests. The cell "Every answer, checked" in section 8 counts them and names the few cards that are
# advice, not fact.

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
import copy
import inspect
import math
from html import escape

import numpy as np
import torch
import torch.nn.functional as F
from IPython.display import HTML, Markdown, display

import sagan_lib.losses
import swssl_lib.loss
from anomaly_lib.metrics import roc_report
from anomaly_lib.published import SWSSL_CHEST_AUC, SWSSL_SHORTHAND
from anomaly_lib.shapes import trace_shapes
from sagan_lib import Discriminator, Generator, to_windows
from sagan_lib.config import SaganConfig
from sagan_lib.generator import KEEP_PROBABILITY
from sagan_lib.losses import generator_loss
from sagan_lib.scoring import reconstruct
from sagan_lib.synthetic_anomaly import paste_anomalies
from swssl_lib import PatchModel, TrainConfig, WindowGrid, similarity_table, twin_loss
from swssl_lib.data import CHEST_XRAY_COUNTS, DEFAULT_IMAGE_SIZES
from swssl_lib.sampling import MAX_NEIGHBOUR_OFFSET

_ = torch.manual_seed(0)

CHECKS = {}  # claim (an errata row or a card's question) → the evidence computed for it


def check(claim: str, holds: bool, evidence: str) -> None:
    """Record that `claim` holds, with the value that shows it; fail the notebook when it does not."""
    assert holds, f"the course's claim {claim!r} is contradicted by the code: {evidence}"
    CHECKS[claim] = evidence
    print(f"✓ {claim[:60]}: {evidence}")

# %% [markdown]
# ## 1. The facts, from the code
#
# Every number this notebook says out loud comes from the objects below: SAGAN's `SaganConfig()` (the
# authors' defaults) and its full-size networks, SWSSL's `TrainConfig()` (the authors' chest setting),
# its model (built on PyTorch's `meta` device: shapes only, instant), its window grid, and the chest
# release's counts (`swssl_lib.data.CHEST_XRAY_COUNTS`).

# %%
cfg = SaganConfig()
ws = cfg.image_size // cfg.num_patch  # window side
generator = Generator(conv_dim=cfg.g_conv_dim, repeat_num=cfg.g_repeat_num, num_memory=cfg.num_memory).eval()
critic = Discriminator(image_size=cfg.image_size, conv_dim=cfg.d_conv_dim, repeat_num=cfg.d_repeat_num).eval()
image = torch.zeros(1, 1, cfg.image_size, cfg.image_size)  # (B, 1, H, W)
windows = to_windows(image, cfg.num_patch)  # (B·M, 1, ws, ws)
g_trace = trace_shapes(generator, windows, max_depth=1)
d_trace = trace_shapes(critic, image, max_depth=2)
g_shape = {row.name: row.output_shape for row in g_trace.rows}  # module → output shape (per window)
g_params = {row.name: row.params for row in g_trace.rows}
codes = generator.binary_encoding  # (M, bits)
critic_score_shape = d_trace.rows[0].output_shape[1]  # the model row: (features, score)

swssl = TrainConfig()
swssl_grid = WindowGrid(*swssl.image_size, swssl.patch_size, swssl.step_size)
with torch.device("meta"):
    wide = PatchModel(backbone=swssl.backbone, pretrained=False)
wide_params = sum(parameter.numel() for parameter in wide.parameters())
n_bank = CHEST_XRAY_COUNTS["train_normal"]  # only the normal training images are banked
n_test = CHEST_XRAY_COUNTS["test_normal"] + CHEST_XRAY_COUNTS["test_abnormal"]
bank_gb = n_bank * wide.width * swssl_grid.positions * 2 / 1e9  # float16


def side(name):
    """'C@h' for a generator module's output, e.g. '128@16'."""
    _, channels, height, _ = g_shape[name]
    return f"{channels}@{height}"


print(f"SAGAN: {cfg.image_size}² images → {cfg.num_patch}×{cfg.num_patch} = {cfg.num_memory} windows of {ws}²; "
      f"G conv_dim {cfg.g_conv_dim}, {cfg.g_repeat_num} residual blocks, {g_params['(model)'] / 1e6:.1f} M parameters; "
      f"critic score map {tuple(critic_score_shape[1:])} per image")
print(f"  position codes {tuple(codes.shape)} (windows × bits); λ_gp {cfg.lambda_gp}, λ_id {cfg.lambda_id}, "
      f"n_critic {cfg.n_critic}, Adam lr {cfg.g_lr} / {cfg.d_lr}, betas ({cfg.beta1}, {cfg.beta2}), batch {cfg.batch_size}")
print(f"  unlabeled abnormal share ar {cfg.ar}; synthetic anomaly core_percent {cfg.core_percent}; "
      f"train-mode keep probability {KEEP_PROBABILITY}")
print(f"SWSSL: {swssl.image_size[0]}×{swssl.image_size[1]} images, patch {swssl.patch_size}, step {swssl.step_size} → "
      f"{swssl_grid.rows}×{swssl_grid.cols} = {swssl_grid.positions} windows; {swssl.backbone} width {wide.width}, "
      f"{wide_params:,} parameters")
print(f"  batch {swssl.batch_size}, SGD lr {swssl.lr}, momentum {swssl.momentum}, weight decay {swssl.weight_decay}, "
      f"clip ±{swssl.clip_value}; neighbours within ±{MAX_NEIGHBOUR_OFFSET} steps")
print(f"  chest release: {n_bank:,} normal training images banked, {n_test} test images; "
      f"bank ({n_bank:,}, {wide.width}, {swssl_grid.positions}) = {bank_gb:.1f} GB in float16")

# %% [markdown]
# ## 2. One minute and twenty seconds per method
#
# Read these aloud until they come without looking. They are generated from the facts above, so they
# never drift from the code. At most 170 words for the minute and 70 for the short version (the
# cell asserts both).

# %%
ONE_MINUTE = {
    "SAGAN": (
        f"SAGAN detects anomalies by reconstruction. It trains on {cfg.image_size}×{cfg.image_size} grey images "
        f"scaled to [−1, 1], with three kinds of data: labeled normal images, an unlabeled pool in which a share "
        f"ar = {cfg.ar} is abnormal, and synthetic anomalies, squares of another normal image blended into a normal "
        f"one. So it is semi-supervised, not normal-only. Each image is cut into a {cfg.num_patch}×{cfg.num_patch} "
        f"grid of {ws}×{ws} windows, and one shared U-Net generator reconstructs every window: a stem of "
        f"{cfg.g_conv_dim} channels, an encoder down to {side('enc_layer3')}, {cfg.g_repeat_num} residual blocks, "
        f"attention-gated skips, multi-scale fusion and a residual head tanh(r + x). Binary position codes are "
        f"appended in the encoder, but the InstanceNorm that follows cancels them, so in the published network they "
        f"change nothing. A WGAN-GP critic, penalty weight {cfg.lambda_gp:g}, judges the stitched images; the "
        f"generator also gets an L1 identity loss on normals, weight {cfg.lambda_id:g}, and an MSE loss mapping each "
        f"synthetic anomaly back to its clean image. The anomaly score is the mean of |x − G(x)| / 2."
    ),
    "SWSSL": (
        f"SWSSL never reconstructs: it learns what normal tissue looks like, patch by patch, from normal images "
        f"only. Images stay at full resolution, {swssl.image_size[0]}×{swssl.image_size[1]} for chest X-rays, "
        f"because lesions are small. Training cuts a {swssl.patch_size}-pixel patch from a grid with step "
        f"{swssl.step_size}, makes one augmented view of the patch and one of its inverted copy, and a "
        f"{swssl.backbone} with a projector maps both to {wide.width}-dimensional vectors. A Barlow-Twins-style "
        f"loss z-scores each feature over the batch of {swssl.batch_size} and asks every feature to correlate "
        f"perfectly between the two views; a neighbour patch up to {MAX_NEIGHBOUR_OFFSET} grid steps away should "
        f"be similar to a degree that falls with its distance. To score, all {swssl_grid.positions} windows of an image are "
        f"embedded and compared with the windows of the {n_bank:,} normal training images: the authors keep, per "
        f"channel, the distance to the closest training image and report the worst channel; the kit adds a "
        f"per-window nearest-neighbour score that draws a heatmap. The price is the feature bank, {bank_gb:.1f} GB "
        f"even in float16."
    ),
}
TWENTY_SECONDS = {
    "SAGAN": (
        f"SAGAN is a GAN whose generator learns, from normal, unlabeled and synthetic-anomaly images, to turn any "
        f"{cfg.image_size}² image into a normal-looking one, window by window; the anomaly score is how much it "
        f"had to change the image, the mean of |x − G(x)| / 2."
    ),
    "SWSSL": (
        f"SWSSL learns patch features from normal images only, by matching each {swssl.patch_size}-pixel patch with "
        f"its inverted copy and with its neighbours. The authors score an image by its worst feature channel: "
        f"that channel's distance, over all window positions, to the closest normal training image. The kit's "
        f"patch k-NN instead scores each window against training windows at the same place, which gives a map."
    ),
}
assert all(len(ONE_MINUTE[m].split()) <= 170 and len(TWENTY_SECONDS[m].split()) <= 70 for m in ONE_MINUTE)
for method in ONE_MINUTE:
    print(f"{method}, one minute ({len(ONE_MINUTE[method].split())} words):\n")
    display(Markdown("> " + ONE_MINUTE[method]))
    print(f"{method}, twenty seconds ({len(TWENTY_SECONDS[method].split())} words):\n")
    display(Markdown("> " + TWENTY_SECONDS[method]))

# %% [markdown]
# ### The question every interviewer asks: "do the position codes work?"
#
# Answer in four steps: the intent, the catch, the evidence, and how you would make it work.

# %%
POSITION_CODE_ANSWER = (
    f"Intent: the generator's weights are shared by all {cfg.num_memory} windows, so SAGAN appends each window's "
    f"index in binary, {codes.shape[1]} constant channels, at three depths of the encoder, so that the shared "
    f"network could treat regions differently. The catch: each place a code enters is followed by a 1×1 "
    f"convolution and an InstanceNorm without learned scale, shift or running statistics. A channel that is "
    f"constant over the window adds one constant per output channel after the 1×1 convolution, and the "
    f"InstanceNorm subtracts each channel's spatial mean, so the constant vanishes: the output does not depend "
    f"on the codes, up to rounding, in the published architecture and in the authors' checkpoints. Evidence: the "
    f"same window with different codes gives the same output (notebook 02, and section 5 below); the kit matches "
    f"the authors' outputs number for number. To make it work: append the codes after the normalisation, make the "
    f"normalisation's scale and shift depend on the code, or use coordinates that vary across the window, as "
    f"CoordConv does. Any benefit reported for the codes cannot come from this mechanism in the published code."
)
display(Markdown("> " + POSITION_CODE_ANSWER))

# %% [markdown]
# ## 3. Shape cheat-sheets
#
# ### SAGAN generator (the authors' full size)
#
# One image becomes its windows; every row below is per window (batch axis = images × windows). The
# position codes are appended after `enc_layer1`, after `enc_layer2` and at the start of `bn2`; the
# 1×1 convolutions `p_bn1`, `p_bn2` and the first layer of `bn2` fold them in.

# %%
# NBVAL_CHECK_OUTPUT
print(g_trace)

# %% [markdown]
# Say it out loud (generated from the trace; `C@h` means C channels at h×h):

# %%
multi_scale = sum(g_shape[name][1] for name in ("up_conv1", "up_conv2", "dec_layer3"))
print(f"stem {side('layer1')} → encoder {side('p_bn1')} → {side('p_bn2')} → {side('enc_layer3')} → bottleneck "
      f"{side('bn2')} ({cfg.g_repeat_num} residual blocks) → gated decoder {side('dec_layer1')} → "
      f"{side('dec_layer2')} → {side('dec_layer3')} → multi-scale concat {multi_scale}@{ws} → bn3 {side('bn3')} → "
      f"conv {side('conv')} → tanh(r + x)")
print(f"the bottleneck bn2 holds {g_params['bn2'] / 1e6:.1f} M of the {g_params['(model)'] / 1e6:.1f} M parameters")

# %% [markdown]
# ### SAGAN critic (WGAN, the authors' full size)
#
# It sees whole re-stitched images: stride-2 convolutions double the channels and halve the side,
# then a 3×3 convolution gives an unbounded score map. At the authors' image size that map is a
# single number per image (section 5 returns to this).

# %%
# NBVAL_CHECK_OUTPUT
print(d_trace)

# %% [markdown]
# ### SWSSL patch model
#
# Traced with `resnet18` for speed, on two patches of the authors' size, grey repeated to 3 channels.
# `forward` returns `(projection, embedding)`: training uses the projection, scoring the embedding.
# The authors' backbone's width and size are printed under the table.

# %%
# NBVAL_CHECK_OUTPUT
patch_model = PatchModel(backbone="resnet18", pretrained=False).eval()
patches = torch.zeros(2, 3, swssl.patch_size, swssl.patch_size)  # (N, 3, patch, patch)
print(trace_shapes(patch_model, patches, max_depth=1))
print(f"{swssl.backbone}: width {wide.width}, {wide_params:,} parameters")
print(f"authors' chest setting: ({swssl.image_size[0]} − {swssl.patch_size}) // {swssl.step_size} = "
      f"{swssl_grid.rows} starts per axis, {swssl_grid.positions} windows per image; an image's features are "
      f"({wide.width}, {swssl_grid.positions}) and the bank is (N_train, {wide.width}, {swssl_grid.positions})")

# %% [markdown]
# ## 4. Losses beside the code that computes them
#
# ### SAGAN ($x_A$ unlabeled, $x_B$ labeled normal, $x_B'$ = $x_B$ with a synthetic anomaly)
#
# $$L_D = -\mathbb{E}[D(x_B)] + \mathbb{E}[D(G(x_A))] + \lambda_{gp}\, \mathbb{E}\big[(\lVert \nabla_{\hat{x}} D(\hat{x}) \rVert_2 - 1)^2\big], \quad \hat{x} = u\,x_B + (1-u)\,G(x_A),\; u \sim U(0,1)$$
#
# $$L_G = \underbrace{-\mathbb{E}[D(G(x_A))]}_{\text{adversarial}} + \lambda_{id}\, \underbrace{\operatorname{mean}|x_B - G(x_B)|}_{\text{identity (L1)}} + \underbrace{\operatorname{mean}(x_B - G(x_B'))^2}_{\text{anomaly removal (MSE)}}$$
#
# with $\lambda_{gp}$ and $\lambda_{id}$ from `SaganConfig()` (printed in section 1). Score:
# $\operatorname{mean}\,|x - G(x)| / 2$ per image. The functions, as they are in `sagan_lib/losses.py`:

# %%
for function in (sagan_lib.losses.gradient_penalty, sagan_lib.losses.critic_loss, sagan_lib.losses.generator_loss):
    print(inspect.getsource(function))

# %% [markdown]
# ### SWSSL ($f_1, f_2$ projections of the two views, $f_n$ of the neighbour, $t$ its target)
#
# $$z = \frac{f - \operatorname{mean}_0 f}{\operatorname{std}_0 f}, \quad C = \frac{z_1^\top z_2}{B}, \quad
# L = \sum_i (C_{ii} - 1)^2 + 10^{-6} \sum_{i \ne j} C_{ij}^2 + \sum_k |\sigma(\cos(f_{1k}, f_{2k})) - 1| + \sum_k |\sigma(\cos(f_{1k}, f_{nk})) - t_k|$$
#
# with $t = g(d_x) + g(d_y)$, $g(d) = 0$ at the largest offset and $0.5/(d+1)$ below it. The docstring of
# `swssl_lib.loss.twin_loss` states it (and the course notebook's variant); the neighbour terms are
# their own function:

# %%
help(swssl_lib.loss.twin_loss)
print(inspect.getsource(swssl_lib.loss.neighbour_terms))

# %% [markdown]
# Score (the authors'): $d[n,c] = \lVert B[n,c,:] - T[c,:] \rVert_2$, $\;\text{score} = \max_c \min_n d[n,c]$
# (`swssl_lib.score_reference`); per window: $m[p] = \min_n \lVert B[n,:,p] - T[:,p] \rVert_2$,
# $\;\text{score} = \max_p m[p]$ (`swssl_lib.score_patch_knn`, which gives the heatmap).
#
# Both formulas, checked against the functions on a small random bank (5 images, 8 channels, 9 positions):

# %%
from swssl_lib import score_patch_knn, score_reference

bank = torch.rand(5, 8, 9)  # (N_train, C, P)
test_features = torch.rand(8, 9)  # (C, P)
authors_score = (bank - test_features).norm(dim=2).amin(dim=0).amax()  # max_c min_n ‖·‖ over positions
knn_score = (bank - test_features).norm(dim=1).amin(dim=0).amax()  # max_p min_n ‖·‖ over channels
check("SWSSL: the authors' score is max over channels of min over images of a distance over positions",
      torch.allclose(score_reference(bank, test_features).image_scores[0], authors_score),
      f"score_reference {score_reference(bank, test_features).image_scores[0]:.4f} = formula {authors_score:.4f}")
check("SWSSL: patch k-NN is max over windows of min over images of a distance over channels",
      torch.allclose(score_patch_knn(bank, test_features).image_scores[0], knn_score)
      and not torch.allclose(authors_score, knn_score),
      f"score_patch_knn {score_patch_knn(bank, test_features).image_scores[0]:.4f} = formula {knn_score:.4f}, "
      f"a different number from the authors' {authors_score:.4f}")

# %% [markdown]
# ## 5. Where the notes are wrong
#
# The kit was specified from two documents: a set of SAGAN interview notes and a course notebook on
# SWSSL (a student project, `github.com/carlosspino/SWSSL`, not the authors' code). Most of what they
# say is right; the rows below are what is wrong or ambiguous, each checked against the kit (which
# matches the authors' code number for number) in the cell named in the first column. Section
# numbers (§) refer to the SAGAN notes; the SWSSL rows name the notebook's function.

# %%
# the course notebook's flags that nothing reads (S3, S4)
UNUSED_FLAGS = ["--weight_decay", "--k", "--n_neighbors", "--coreset_sampling_ratio", "--load_size", "--input_size",
                "--project_root_path", "--save_src_code", "--save_anomaly_map", "--learning-rate-weights",
                "--learning-rate-biases", "--use_tumor", "--phase"]
ERRATA = [
    ("E1", "§1.3 vs §1.4", "the dataset passes core_percent 0.6, while the function is written with 0.8 and "
     "its worked example (a core of about 51 px at 64 px) uses 0.8",
     f"the authors' value is {cfg.core_percent} (`SaganConfig().core_percent`): centres in the central "
     f"{cfg.core_percent:.0%} of each axis"),
    ("E2", "§1.4", "the square's width runs from about 3 to about 13 px",
     "those are **half-widths**, drawn with the upper end excluded; the square's side is twice that"),
    ("E3", "§0, §11", "the critic is a (deep) PatchGAN",
     f"at {cfg.image_size}×{cfg.image_size} the critic's score map is {tuple(critic_score_shape[2:])}: "
     "one score per image"),
    ("E4", "§13.2", "the identity and MSE losses are written as sums over pixels",
     "the code (and §6.4 of the same notes) takes **means**; a sum would scale them by B·H·W"),
    ("E5", "§7.3", "the implementation supports Grad-CAM-style maps",
     "the maps described are |x − G(x)| differences, upsampled and colour-mapped: no gradient, no class score"),
    ("E6", "§3.7", "the train-mode mask keeps some pixels as the original input",
     f"the mask (keep probability {KEEP_PROBABILITY}) swaps the residual r for x, and the output is still "
     "tanh(r + x): those pixels become tanh(2x), not x"),
    ("E7", "§10", "the binary codes tell each window where it is, so shared weights learn per-region features",
     "the InstanceNorm after each 1×1 mixer cancels constant channels: the output does not depend on the codes"),
    ("E8", "§12.2", "InstanceNorm normalises every image with learned γ, β, everywhere in G",
     "most of G's InstanceNorms keep running statistics and use them in eval mode (at test time); the mixers' "
     "and gates' have no γ, β"),
    ("E9", "§7.2, §10", "the authors' cutoff is close to the Youden index",
     "the authors' cutoff balances sensitivity and specificity; Youden's J maximises their sum; they can differ"),
    ("E10", "§6.5", "best_G1.ckpt is kept by 'validation'",
     f"it is chosen on the **test** split; the kit defaults to select_on={cfg.select_on!r}"),
    ("E11", "§8", "the hyper-parameters follow common WGAN-GP settings",
     "only λ_gp matches the WGAN-GP paper's defaults; the rest are the authors' own choices"),
    ("E12", "§6.5", "the learning rates decay linearly in the final phase",
     f"the authors' rule subtracts lr / num_iters_decay every {cfg.lr_update_step} iterations: with their "
     f"defaults the rate falls by {1 / cfg.lr_update_step:.1%} in all (the kit's default decays to 0)"),
    ("E13", "§3.7, §10", "the generator learns a small residual around the input, so leaving normal regions "
     "unchanged is easy",
     "the head returns tanh(r + x), and that equals x only when r = atanh(x) − x: zero at x = 0, unbounded "
     "towards ±1; r = 0 returns tanh(x), not x"),
    ("E14", "§4, §15.7", "the gate masks the skip spatially, so G can focus on informative regions",
     "ψ passes through a one-channel InstanceNorm before its sigmoid, so ψ's mean over each window stays near "
     "0.5 whatever the weights: the gate re-weights pixels within a window but cannot close a skip"),
    ("S1", "twin_loss (prose)", "features are z-scored (mean and std per feature)",
     "its code L2-normalises each row (each patch); the authors' code z-scores"),
    ("S2", "evaluate_and_save_model", "a checkpoint is saved when the score improves",
     "best_score is a parameter, so the update never reaches the caller: a checkpoint at every evaluation"),
    ("S3", "get_args, train", "--weight_decay 1e-6",
     f"never read; SGD gets a literal 1e-5 (the authors' value, `TrainConfig().weight_decay` = {swssl.weight_decay})"),
    ("S4", "get_args", f"--k, --n_neighbors, --coreset_sampling_ratio and {len(UNUSED_FLAGS) - 4} more flags",
     "read nowhere: the scoring takes the minimum over all training images, with no k and no coreset"),
    ("S5", "create_dataset", "resizes by mode (patches square with ToTensor, full images 1024×768 without)",
     "the patch sampler needs a PIL image and the full-image loader a tensor; the authors resize by category"),
    ("S6", "introduction, twin_loss", "training separates positive (normal) from negative (anomalous) samples; "
     "f_neg is a negative", "training sees normal images only; f_neg is a neighbour with a target similarity "
     "from 0 to 0.75, and every target below 0.5 asks for a negative cosine: most neighbours are pushed apart"),
    ("S7", "twin_loss (code)", "the B×B similarity divided by B is driven to the identity",
     "its diagonal never exceeds 1/B: a floor of (B − 1)²/B, and collapse is optimal (notebook 08)"),
]
table = ["| row | where | the notes say | what the code does |", "|---|---|---|---|"]
table += [f"| {row} | {where} | {claim} | {truth} |" for row, where, claim, truth in ERRATA]
display(Markdown("\n".join(table)))

# %% [markdown]
# ### E1, E2 · The synthetic anomaly's core and size
#
# Draw thousands of anomalies with the kit's `paste_anomalies` (the authors' rule) and measure the
# boxes: where their centres fall, how often the border cuts them, and how wide they are.

# %%
rng = torch.Generator().manual_seed(0)
n_draws = 2000
blank = torch.zeros(n_draws, 1, cfg.image_size, cfg.image_size)
source = torch.ones(n_draws, 1, cfg.image_size, cfg.image_size)
print("SaganConfig().core_percent:", cfg.core_percent, "| paste_anomalies default:",
      inspect.signature(paste_anomalies).parameters["core_percent"].default)
def extent(covered):
    """First and last covered index of each box along one axis: covered (n, L) bool → (n,), (n,)."""
    first = covered.float().argmax(dim=1)
    return first, covered.shape[1] - 1 - covered.flip(1).float().argmax(dim=1)


centre_ranges, side_ranges = {}, {}
for core in (cfg.core_percent, 0.8):
    _, masks = paste_anomalies(blank, source, core_percent=core, generator=rng)  # (n, 1, H, W) bool
    masks = masks[masks.flatten(1).any(dim=1), 0]  # (n, H, W), without the rare empty box (alpha = 0)
    top, bottom = extent(masks.any(dim=2))  # rows
    left, right = extent(masks.any(dim=1))  # columns
    row_sides, col_sides = bottom - top + 1, right - left + 1
    cut = row_sides != col_sides  # a square the border cut on one side is no longer square
    centres = (top + bottom + 1)[~cut] / 2
    centre_ranges[core] = (centres.min().item(), centres.max().item())
    side_ranges[core] = (row_sides[~cut].min().item(), row_sides[~cut].max().item())
    print(f"core_percent {core}: centre rows {centres.min():.0f}…{centres.max():.0f}, "
          f"squares cut by the border {cut.float().mean():.1%}, sides {row_sides[~cut].min()}…{row_sides[~cut].max()} px")
low, high = round(0.05 * cfg.image_size), round(0.2 * cfg.image_size)
print(f"half-width = randint({low}, {high}) ∈ {{{low}, …, {high - 1}}}: the side is 2 × half-width")
core_low, core_high = int(0.2 * cfg.image_size), int(0.8 * cfg.image_size)  # the central 60 % of an axis
check("E1", cfg.core_percent == 0.6 and core_low <= centre_ranges[0.6][0] and centre_ranges[0.6][1] <= core_high
      and centre_ranges[0.8][0] < core_low and centre_ranges[0.8][1] > core_high,
      f"centres {centre_ranges[0.6][0]:.0f}…{centre_ranges[0.6][1]:.0f} with 0.6 (inside {core_low}…{core_high}), "
      f"{centre_ranges[0.8][0]:.0f}…{centre_ranges[0.8][1]:.0f} with 0.8")
check("E2", side_ranges[0.6][1] > high and side_ranges[0.6][1] <= 2 * (high - 1) + 1,
      f"sides up to {side_ranges[0.6][1]} px: wider than the largest half-width {high - 1}, at most 2·{high - 1} + 1")

# %% [markdown]
# ### E3 · One score per image, not a PatchGAN

# %%
print(f"critic score at {cfg.image_size}×{cfg.image_size}: {critic_score_shape} → one number per image")
with torch.no_grad():
    bigger = Discriminator(image_size=2 * cfg.image_size, conv_dim=8, repeat_num=cfg.d_repeat_num)
    score_map = bigger(torch.zeros(1, 1, 2 * cfg.image_size, 2 * cfg.image_size))[1]
print(f"the same critic on {2 * cfg.image_size}×{2 * cfg.image_size} images: {tuple(score_map.shape)} → "
      "only then does each score see part of the image, as a PatchGAN's would")
check("E3", tuple(critic_score_shape[2:]) == (1, 1) and score_map.shape[-1] > 1,
      f"score map {tuple(critic_score_shape[2:])} at {cfg.image_size}², {tuple(score_map.shape[2:])} at {2 * cfg.image_size}²")

# %% [markdown]
# ### E4 · Means, not sums

# %%
x_b = torch.rand(cfg.batch_size, 1, cfg.image_size, cfg.image_size) * 2 - 1  # (B, 1, H, W) in [-1, 1]
normal_rec, anomaly_rec = x_b + 0.1 * torch.randn_like(x_b), x_b + 0.2 * torch.randn_like(x_b)
_, parts = generator_loss(torch.zeros(cfg.batch_size, 1, 1, 1), x_b, normal_rec, anomaly_rec, cfg.lambda_id)
l1_sum = (x_b - normal_rec).abs().sum()
print(f"identity term: library {parts['G/loss_id']:.4f} = mean |x_B − G(x_B)| {(x_b - normal_rec).abs().mean():.4f}; "
      f"the sum would be {l1_sum:.1f}, {l1_sum / parts['G/loss_id']:.0f}× larger (B·H·W = {x_b.numel()})")
print(f"MSE term: library {parts['G/loss_mse']:.4f} = mean (x_B − G(x_B′))² {((x_b - anomaly_rec) ** 2).mean():.4f}")
check("E4", torch.isclose(parts["G/loss_id"], (x_b - normal_rec).abs().mean())
      and torch.isclose(parts["G/loss_mse"], ((x_b - anomaly_rec) ** 2).mean()),
      "both generator terms equal the means, not the sums")

# %% [markdown]
# ### E5 · The heatmap is a difference, not Grad-CAM

# %%
small_generator = Generator(conv_dim=8, repeat_num=1, num_memory=cfg.num_memory)
test_images = torch.rand(2, 1, cfg.image_size, cfg.image_size) * 2 - 1
reconstructions, maps = reconstruct(small_generator, test_images, cfg.num_patch)
print("map == |x − G(x)| / 2:", torch.equal(maps, (test_images - reconstructions).abs() / 2),
      "| gradient graph behind it:", maps.grad_fn is not None)
print("Grad-CAM weighs a layer's feature maps by the gradient of a class score; SAGAN has no class score, "
      "and its map is the reconstruction error itself.")
check("E5", torch.equal(maps, (test_images - reconstructions).abs() / 2) and maps.grad_fn is None,
      "the map is |x − G(x)| / 2, computed without gradients")

# %% [markdown]
# ### E6 · The keep-mask does not keep the original pixels

# %%
small_generator.train()
x = torch.empty(64 * cfg.num_memory, 1, ws, ws).uniform_(0.2, 0.9)  # windows, away from 0
with torch.no_grad():
    out = small_generator(x)
as_tanh_2x = ((out - torch.tanh(2 * x)).abs() < 1e-6).float().mean()
as_input = ((out - x).abs() < 1e-6).float().mean()
small_generator.eval()
print(f"pixels equal to tanh(2x): {as_tanh_2x:.2%} (1 − keep probability = {1 - KEEP_PROBABILITY:.0%}); "
      f"pixels equal to the input x: {as_input:.2%}")
check("E6", abs(as_tanh_2x - (1 - KEEP_PROBABILITY)) < 0.01 and as_input < 0.001,
      f"{as_tanh_2x:.2%} of the pixels are tanh(2x), {as_input:.2%} are x")

# %% [markdown]
# ### E7 · The position codes are cancelled
#
# The same windows through the full-size generator, once with the real codes and once telling every
# window that it is window 0. A forward hook records `p_bn1`'s 1×1 convolution and its InstanceNorm.

# %%
x = torch.rand(2 * cfg.num_memory, 1, ws, ws) * 2 - 1  # the windows of two images
recorded = {}
hooks = [generator.p_bn1[0].register_forward_hook(lambda m, i, o: recorded.__setitem__("conv", o)),
         generator.p_bn1[1].register_forward_hook(lambda m, i, o: recorded.__setitem__("norm", o))]
real_codes = generator.binary_encoding.clone()  # (M, bits)
with torch.no_grad():
    out_real = generator(x)
    conv_real, norm_real = recorded["conv"], recorded["norm"]
    generator.binary_encoding = torch.zeros_like(real_codes)  # every window claims to be window 0
    out_zero = generator(x)
    generator.binary_encoding = real_codes
for hook in hooks:
    hook.remove()
print("codes (window → bits):", real_codes.int().tolist(), "| the first bit is always 0 for", cfg.num_memory, "windows")
print(f"max |difference| after p_bn1's 1×1 conv {(recorded['conv'] - conv_real).abs().max():.3f}, "
      f"after its InstanceNorm {(recorded['norm'] - norm_real).abs().max():.1e}, "
      f"at the generator's output {(out_zero - out_real).abs().max():.1e}")
CODES_EFFECT = (out_zero - out_real).abs().max().item()
check("E7", (recorded["conv"] - conv_real).abs().max() > 0.01 and CODES_EFFECT < 1e-4,
      f"the codes move the 1×1 conv's output, the generator's output by at most {CODES_EFFECT:.1e}")

# %% [markdown]
# ### E8 · InstanceNorm in eval mode uses running statistics

# %%
norms = [m for m in generator.modules() if isinstance(m, torch.nn.InstanceNorm2d)]
tracked = [m for m in norms if m.track_running_stats]
print(f"{len(norms)} InstanceNorm layers in G: {len(tracked)} with learned γ, β and running statistics, "
      f"{len(norms) - len(tracked)} with neither")
stem_norm = copy.deepcopy(generator.layer1[1])  # a copy: running it in train mode would update G's statistics
feature = torch.randn(1, stem_norm.num_features, ws, ws) * 3 + 2  # channel means near 2
for mode in (False, True):  # eval first: train mode would update the running statistics
    stem_norm.train(mode)
    with torch.no_grad():
        channel_means = stem_norm(feature).mean(dim=(2, 3)).abs().mean()
    print(f"{'train' if mode else 'eval '} mode: mean |channel mean| after the norm {channel_means:.3f}")
    if not mode:
        eval_means = channel_means
check("E8", len(tracked) > len(norms) / 2 and eval_means > 0.5 > channel_means,
      f"{len(tracked)} of {len(norms)} norms track statistics; channel means {eval_means:.2f} in eval mode, "
      f"{channel_means:.2f} in train mode")

# %% [markdown]
# ### E9 · The authors' cutoff is not Youden's J

# %%
rng_np = np.random.default_rng(0)
labels = np.r_[np.zeros(100), np.ones(100)]
scores = np.r_[rng_np.normal(0, 1, 100), rng_np.normal(3, 1, 60), rng_np.normal(0.5, 1, 40)]  # easy and hard abnormals
report = roc_report(labels, scores)
for name, point in [("authors' cutoff (sens ≈ spec)", report.authors_cutoff), ("Youden's J (max sens + spec)", report.youden)]:
    print(f"{name:<30} threshold {point.threshold:6.3f}: sensitivity {point.sensitivity:.2f}, "
          f"specificity {point.specificity:.2f}")
balance = abs(report.authors_cutoff.sensitivity - report.authors_cutoff.specificity)
check("E9", report.authors_cutoff.threshold != report.youden.threshold
      and balance <= abs(report.youden.sensitivity - report.youden.specificity)
      and report.youden.sensitivity + report.youden.specificity
      >= report.authors_cutoff.sensitivity + report.authors_cutoff.specificity,
      f"thresholds {report.authors_cutoff.threshold:.3f} (balanced) and {report.youden.threshold:.3f} (max sum) differ")

# %% [markdown]
# ### E10 · Choosing on the test set flatters the result
#
# Ten checkpoints of *equal* quality, each scored on its own noisy test set of 100 normal and 100
# abnormal images: the best of the ten is reported, as a test-set selection does. The AUC is computed
# from its definition, the share of (abnormal, normal) pairs ranked the right way.

# %%
from sagan_lib.train import TEST_SELECTION_WARNING

normal_scores = rng_np.normal(0, 1, (100, 10, 100))  # (trials, checkpoints, images)
abnormal_scores = rng_np.normal(1, 1, (100, 10, 100))
aucs = (abnormal_scores[..., :, None] > normal_scores[..., None, :]).mean(axis=(-1, -2))  # (trials, checkpoints)
print(f"one checkpoint: mean AUC {aucs.mean():.3f} | best of 10 on the test set: mean {aucs.max(axis=1).mean():.3f}")
print("kit default select_on:", repr(cfg.select_on), "|", TEST_SELECTION_WARNING)
check("E10", aucs.max(axis=1).mean() > aucs.mean() + 0.01 and cfg.select_on != "test",
      f"best-of-10 inflates the AUC by {aucs.max(axis=1).mean() - aucs.mean():.3f}; the kit selects on {cfg.select_on!r}")

# %% [markdown]
# ### E11 · SAGAN's optimiser settings are the authors' own
#
# The WGAN-GP paper (Gulrajani et al., 2017, Algorithm 1) uses λ = 10, $n_\text{critic}$ = 5 and Adam with
# learning rate $10^{-4}$ and betas (0, 0.9). SAGAN's settings:

# %%
print(f"SAGAN: λ_gp {cfg.lambda_gp}, n_critic {cfg.n_critic}, Adam lr {cfg.g_lr} (G) / {cfg.d_lr} (D), "
      f"betas ({cfg.beta1}, {cfg.beta2}), batch {cfg.batch_size}, {cfg.num_iters:,} iterations "
      f"({cfg.num_iters_decay:,} of them with a decaying rate)")
WGAN_GP_PAPER = {"lambda": 10, "n_critic": 5, "lr": 1e-4, "betas": (0.0, 0.9)}  # Gulrajani et al., Algorithm 1
check("E11", cfg.lambda_gp == WGAN_GP_PAPER["lambda"] and cfg.n_critic != WGAN_GP_PAPER["n_critic"]
      and cfg.g_lr != WGAN_GP_PAPER["lr"] and (cfg.beta1, cfg.beta2) != WGAN_GP_PAPER["betas"],
      "λ_gp matches the paper; n_critic, the learning rate and the betas do not")

# %% [markdown]
# ### E12 · The authors' decay barely decays
#
# Their rule, as the kit's `lr_decay="reference"` reproduces it: every `lr_update_step` iterations of
# the last `num_iters_decay`, subtract `lr / num_iters_decay`.

# %%
updates = cfg.num_iters_decay // cfg.lr_update_step  # rate changes during the decay phase
final_reference = cfg.g_lr - updates * cfg.g_lr / cfg.num_iters_decay
print(f"{updates} updates of −{cfg.g_lr / cfg.num_iters_decay:.1e}: the rate ends at {final_reference:.4e} "
      f"({final_reference / cfg.g_lr:.1%} of {cfg.g_lr}); the kit's default lr_decay={cfg.lr_decay!r} ends at 0")
check("E12", abs((1 - final_reference / cfg.g_lr) - 1 / cfg.lr_update_step) < 1e-9,
      f"the authors' rule lowers the rate by {1 - final_reference / cfg.g_lr:.1%} in all")

# %% [markdown]
# ### E13 · Copying a pixel is not free
#
# The head returns $\tanh(r + x)$. A correction $r = 0$ gives $\tanh(x)$, which is smaller than $x$ in
# magnitude; returning $x$ itself needs $r = \operatorname{atanh}(x) - x$.

# %%
pixel = torch.tensor([-0.99, -0.9, -0.5, 0.0, 0.2, 0.5, 0.9])  # values in [-1, 1]
needed = torch.atanh(pixel) - pixel  # tanh(r + x) = x  ⇔  r = atanh(x) − x
for x_value, r_value in zip(pixel.tolist(), needed.tolist()):
    print(f"x = {x_value:+.2f}: r = 0 gives {math.tanh(x_value):+.3f}; copying x needs r = {r_value:+.3f}")
check("E13", torch.allclose(torch.tanh(needed + pixel), pixel, atol=1e-5) and needed[1] < -0.5
      and (torch.tanh(pixel) - pixel).abs().max() > 0.2,
      f"at x = −0.9 copying needs r = {needed[1]:.2f}; r = 0 misses x by up to {(torch.tanh(pixel) - pixel).abs().max():.2f}")

# %% [markdown]
# ### E14 · The attention gate cannot close a skip
#
# `AttentionGate.psi` is a 1×1 convolution to one channel, then `InstanceNorm2d(1)`, then the sigmoid.
# The norm subtracts the map's mean over each window and divides by its spread, so whatever the
# convolution's weights and bias, the sigmoid sees a map with mean 0 and variance 1 per window, and
# ψ's mean over the window stays near σ's value on such a map, about 0.5. Take the full-size
# generator's finest gate, feed it random features, and push its ψ convolution as hard as we can.

# %%
gate = copy.deepcopy(generator.gate3)
skip_width, gate_width = gate.W_x[0].in_channels, gate.W_gate[0].in_channels
skip, decoder = torch.randn(8, skip_width, 16, 16), torch.randn(8, gate_width, 16, 16)  # (windows, C, h, w)
psi_conv = gate.psi[0]
window_means = {}
with torch.no_grad():
    for name, weight_scale, bias in [("as built", 1, 0), ("bias −50", 1, -50), ("bias +50", 1, 50),
                                     ("weights ×100", 100, 0)]:
        trial = copy.deepcopy(gate)
        trial.psi[0].weight.mul_(weight_scale)
        trial.psi[0].bias.add_(bias)
        psi = trial.attention_map(decoder, skip)  # (8, 1, 16, 16)
        window_means[name] = psi.mean(dim=(1, 2, 3))  # (8,) one mean per window
        print(f"{name:<13} ψ per window: mean {window_means[name].min():.3f}…{window_means[name].max():.3f}, "
              f"pixels {psi.min():.3f}…{psi.max():.3f}")
    without_norm = copy.deepcopy(gate)
    without_norm.psi[1] = torch.nn.Identity()  # the exercise of notebook 03: drop the norm
    without_norm.psi[0].bias.add_(-50)
    closed = without_norm.attention_map(decoder, skip).mean(dim=(1, 2, 3))
print(f"without the norm, bias −50: ψ per window {closed.max():.1e} at most, the skip is closed")
means = torch.stack(list(window_means.values()))
check("E14", (means - 0.5).abs().max() < 0.06 and closed.max() < 1e-6,
      f"mean ψ per window stays in {means.min():.3f}…{means.max():.3f} under every push; only without the norm "
      "does it reach 0")

# %% [markdown]
# ### S1, S7 · Z-score or L2? And the floor of the L2 version

# %%
f1, f2 = torch.randn(6, 16), torch.randn(6, 16)  # (B, D)
z = (f1 - f1.mean(0)) / f1.std(0)  # what the prose describes: per feature, over the batch
n = F.normalize(f1, dim=-1)  # what the code does: per row
print(f"z-score: column means {z.mean(0).abs().max():.1e}, column stds {z.std(0).min():.3f}…{z.std(0).max():.3f}")
print(f"L2: row lengths {n.norm(dim=1).min():.3f}…{n.norm(dim=1).max():.3f}, column means up to {n.mean(0).abs().max():.2f}")
print(f"twin_loss: paper (z-score) {twin_loss(f1, f2):.3f} | notebook (L2) {twin_loss(f1, f2, variant='notebook'):.3f}")
same = torch.randn(swssl.batch_size, wide.width)
floor = (swssl.batch_size - 1) ** 2 / swssl.batch_size
print(f"S7: identical views, B = {swssl.batch_size}: notebook variant {twin_loss(same, same, variant='notebook'):.2f} "
      f"= its floor (B − 1)²/B {floor:.2f}")
check("S1", z.mean(0).abs().max() < 1e-5 and torch.allclose(n.norm(dim=1), torch.ones(len(n)))
      and not torch.isclose(twin_loss(f1, f2), twin_loss(f1, f2, variant="notebook")),
      "z-scoring centres the columns, L2 normalises the rows; the two losses differ")
check("S7", abs(twin_loss(same, same, variant="notebook").item() - floor) < 1e-3 * floor,
      f"identical views still cost {floor:.2f}")

# %% [markdown]
# ### S2 · `best_score` never changes
#
# The course notebook's pattern, reduced to its bones: the best score is passed *into* a helper that
# assigns to it. Assignment inside a function rebinds the function's own name; the caller's variable
# is untouched. (The authors' script updates it inline, in the loop, and works; the kit's `fit` keeps
# its best AUC in the loop too.)

# %%
def evaluate_and_save(score, best_score, saved):
    if score > best_score:
        saved.append(score)  # stands for torch.save(...)
        best_score = score  # rebinds the local name only
    return None


best_score, saved = -1, []
for score in (0.71, 0.64, 0.69):
    evaluate_and_save(score, best_score, saved)
print(f"after three evaluations: best_score = {best_score}; checkpoints saved for {saved}")
check("S2", best_score == -1 and len(saved) == 3, "best_score never changes, so every evaluation saves")

# %% [markdown]
# ### S3, S4 · Flags that do nothing
#
# The course notebook's `get_args` defines `--weight_decay` (1e-6), `--k` and `--n_neighbors` (9),
# `--coreset_sampling_ratio`, `--load_size`, `--input_size`, `--project_root_path`, `--save_src_code`,
# `--save_anomaly_map`, `--learning-rate-weights`, `--learning-rate-biases`, `--use_tumor` and
# `--phase`. Its `train` reads only the dataset path, category, batch size, learning rate, epochs,
# patch and step, and the authors' `evaluate_image` reads only the patch and the step. The kit's
# command line has the flags that act, and each one reaches the code:

# %%
from swssl_lib.cli import build_parser
from swssl_lib.train import make_optimizer

kit_flags = {option for action in build_parser()._actions for option in action.option_strings}
print("in the kit's parser:", [flag for flag in UNUSED_FLAGS if flag in kit_flags])
print("absent from the kit:", [flag for flag in UNUSED_FLAGS if flag not in kit_flags])
optimizer = make_optimizer(torch.nn.Linear(2, 2), TrainConfig(weight_decay=1e-6))
print(f"kit: TrainConfig(weight_decay=1e-6) → SGD weight decay {optimizer.param_groups[0]['weight_decay']} "
      f"(default {swssl.weight_decay}); the kit's --k is patch_knn's number of neighbours, a different thing")
check("S3", swssl.weight_decay == 1e-5 and optimizer.param_groups[0]["weight_decay"] == 1e-6,
      "the authors' 1e-5 is the kit's default, and the kit's flag reaches SGD")
reference_settings = set(inspect.signature(score_reference).parameters)
check("S4", not reference_settings & {"k", "n_neighbors", "coreset_sampling_ratio"},
      f"the authors' scoring (score_reference, checked in section 4) takes only {sorted(reference_settings)}")

# %% [markdown]
# ### S5 · `create_dataset` swaps what each dataset needs

# %%
tensor_image = torch.zeros(3, 16, 16)
try:
    tensor_image.size[0]  # the patch sampler's `img.size[0]`, after ToTensor
except TypeError as error:
    print("patch dataset after ToTensor:", type(error).__name__, "-", error)
    sampler_fails = True
print("the kit resizes by category, for training and scoring alike:", DEFAULT_IMAGE_SIZES)
for name, (height, width) in DEFAULT_IMAGE_SIZES.items():
    print(f"  {name}: {WindowGrid(height, width, swssl.patch_size, swssl.step_size).shape} windows (rows, cols)")
check("S5", sampler_fails and DEFAULT_IMAGE_SIZES["chest"] == (1024, 1024),
      "a tensor has no PIL size; the kit sizes images by category")

# %% [markdown]
# ### S6 · Normal images only, and no negatives

# %%
from swssl_lib.data import PHASE_SPLITS

targets = list(similarity_table().values())  # one per offset (dx, dy) ≠ (0, 0)
apart = sum(target < 0.5 for target in targets)  # σ(cos) < 0.5 ⇔ cos < 0: these neighbours are pushed apart
print("splits read for training:", PHASE_SPLITS["train"])
print(f"neighbour targets range from {min(targets):.2f} to {max(targets):.2f}; {apart} of the {len(targets)} "
      f"offsets have a target below 0.5, which σ(cos) meets only with a negative cosine: those neighbours are "
      f"pushed apart, the nearest ones pulled together")
SIGMOID_RANGE = (torch.sigmoid(torch.tensor(-1.0)).item(), torch.sigmoid(torch.tensor(1.0)).item())  # σ(cos), cos ∈ [−1, 1]
DISTINCT_TARGETS = sorted({round(target, 6) for target in targets})
OUT_OF_REACH = [t for t in DISTINCT_TARGETS if not SIGMOID_RANGE[0] <= t <= SIGMOID_RANGE[1]]
print(f"distinct targets {[f'{t:.3f}' for t in DISTINCT_TARGETS]}; out of σ(cos)'s reach "
      f"[{SIGMOID_RANGE[0]:.3f}, {SIGMOID_RANGE[1]:.3f}]: {[f'{t:.3f}' for t in OUT_OF_REACH]}")
check("S6", all("normal" in split for split in PHASE_SPLITS["train"]) and apart > len(targets) / 2,
      f"training reads {PHASE_SPLITS['train']}; {apart} of {len(targets)} offsets push the neighbour apart")
unchecked = [row for row, *_ in ERRATA if row not in CHECKS]
assert not unchecked, f"errata rows without a check: {unchecked}"
print(f"all {len(ERRATA)} errata rows are checked")

# %% [markdown]
# ## 6. Glossary with formulas
#
# **Convolution** (`nn.Conv2d`, kernel $k$, stride $s$, padding $p$):
# $y[o, i, j] = b_o + \sum_{c}\sum_{u,v} w[o, c, u, v]\; x[c,\, s i + u - p,\, s j + v - p]$.
# The output side is $\lfloor (H + 2p - k)/s \rfloor + 1$, so kernel 4, stride 2, padding 1 halves it.
# The same weights slide over every position (weight sharing).
#
# **Transposed convolution** (`nn.ConvTranspose2d`): each input pixel adds a weighted copy of the
# kernel to the output, placed with stride $s$ (it is the gradient of a convolution with respect to its
# input). The output side is $(H - 1)s - 2p + k$, so kernel 4, stride 2, padding 1 doubles it: a
# learned upsampling.
#
# **Activations.** $\text{ReLU}(x) = \max(0, x)$; $\text{LeakyReLU}(x) = x$ for $x \ge 0$ and $\alpha x$
# otherwise (a small slope keeps gradients alive for negative inputs);
# $\tanh(x) = \frac{e^x - e^{-x}}{e^x + e^{-x}} \in (-1, 1)$, the range of SAGAN's images;
# $\sigma(x) = \frac{1}{1 + e^{-x}} \in (0, 1)$, used for gates and soft similarities.
#
# **BatchNorm vs InstanceNorm.** Both compute $\hat{x} = (x - \mu)/\sqrt{\sigma^2 + \epsilon}$ and
# optionally $y = \gamma \hat{x} + \beta$. BatchNorm takes $\mu, \sigma^2$ per channel over the batch and
# the pixels $(N, H, W)$, and uses running averages in eval mode. InstanceNorm takes them per image and
# channel over the pixels $(H, W)$ only, so one image never affects another; with
# `track_running_stats=True` it also switches to running averages in eval mode (most of SAGAN's do).
#
# **Residual block.** $y = x + F(x)$: the identity path carries the signal and the gradient, and "change
# nothing" is the easy default. SAGAN's head is residual too: $\tanh(r + x)$.
#
# **Attention gate** (Attention U-Net): with a decoder feature $g$ and an encoder skip feature $x$,
# $\psi = \sigma\big(\text{conv}_{1\times1}(\text{ReLU}(W_g g + W_x x))\big) \in (0, 1)^{h \times w}$ and the
# output is $x \odot \psi$: the decoder decides, pixel by pixel, how much of the skip passes. SAGAN's
# gates add an InstanceNorm after each of these convolutions, the last one on ψ's single channel, which
# keeps ψ's mean per window near 0.5 (E14).
#
# **L1 and MSE.** $\text{L1} = \frac{1}{n}\sum |y - \hat{y}|$, $\text{MSE} = \frac{1}{n}\sum (y - \hat{y})^2$
# (means, as in the code). L1 treats every error alike and blurs less; MSE punishes large errors more.
#
# **Gradient penalty** (WGAN-GP): $\lambda\, \mathbb{E}_{\hat{x}}\big[(\lVert \nabla_{\hat{x}} D(\hat{x}) \rVert_2 - 1)^2\big]$ with
# $\hat{x} = u\, x_\text{real} + (1-u)\, x_\text{fake}$: a soft version of the 1-Lipschitz constraint a
# Wasserstein critic needs, checked on lines between real and generated images.
#
# **TPR, FPR, precision, recall.** With a threshold $t$ (abnormal if score $\ge t$):
# $\text{TPR} = \text{recall} = \text{sensitivity} = \frac{TP}{TP + FN}$;
# $\text{FPR} = \frac{FP}{FP + TN} = 1 - \text{specificity}$; $\text{precision} = \frac{TP}{TP + FP}$.
#
# **ROC and AUC.** The ROC curve is (FPR, TPR) over all thresholds. Its area is
# $\text{AUC} = P(s_\text{abnormal} > s_\text{normal}) + \tfrac12 P(s_\text{abnormal} = s_\text{normal})$, the
# chance that a random abnormal image outranks a random normal one; 0.5 is chance, and the class
# balance does not change it.
#
# **PR curve and AP.** Precision against recall. scikit-learn's average precision is
# $\text{AP} = \sum_n (R_n - R_{n-1}) P_n$ over the thresholds; chance is the share of abnormal images,
# so AP depends on prevalence and on how clean the top of the ranking is.
#
# **Epoch, iteration, learning-rate decay.** An iteration (step) is one optimiser update on one
# batch; an epoch is one pass over the training set, about $N/B$ iterations. The kit's SAGAN decay sets
# $\text{lr}_t = \text{lr}_0 \cdot \frac{T - t}{T_\text{decay}}$ for $t > T - T_\text{decay}$, but only every
# `lr_update_step` iterations, so the rate falls to 0 as a staircase along that straight line.
#
# Where the kit uses each, printed from its modules and configs:

# %%
down, up = generator.enc_layer1[0], generator.dec_layer1[0]
with torch.no_grad():
    down_side = down(torch.zeros(1, down.in_channels, ws, ws)).shape[-1]
    up_in = g_shape["bn2"][-1]
    up_side = up(torch.zeros(1, up.in_channels, up_in, up_in)).shape[-1]
print(f"Conv2d k{down.kernel_size[0]} s{down.stride[0]} p{down.padding[0]} (enc_layer1): {ws} → {down_side} "
      f"(formula {(ws + 2 * down.padding[0] - down.kernel_size[0]) // down.stride[0] + 1})")
print(f"ConvTranspose2d k{up.kernel_size[0]} s{up.stride[0]} p{up.padding[0]} (dec_layer1): {up_in} → {up_side} "
      f"(formula {(up_in - 1) * up.stride[0] - 2 * up.padding[0] + up.kernel_size[0]})")
print(f"LeakyReLU slope in the critic: {critic.main[1].negative_slope}; sigmoid in each attention gate: "
      f"{type(generator.gate1.psi[-1]).__name__}")
print(f"InstanceNorm layers in G: {len(norms)} ({len(tracked)} with running statistics); "
      f"BatchNorm layers in SWSSL's {swssl.backbone}: "
      f"{sum(isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)) for m in wide.modules())}")
print(f"SAGAN: {cfg.num_iters:,} iterations, rate decay {cfg.lr_decay!r} over the last {cfg.num_iters_decay:,}, "
      f"updated every {cfg.lr_update_step}; one pass over N images is N // {cfg.batch_size} iterations")
print(f"SWSSL: constant rate {swssl.lr}; {swssl.epochs} epochs (kit default), each about "
      f"{-(-n_bank // swssl.batch_size)} iterations of {swssl.batch_size} for {n_bank:,} images")

# %% [markdown]
# ## 7. Evidence for the questions an informed interviewer adds
#
# Five questions go beyond the two papers: how to aggregate a map into a score, how to pick an
# operating point without test labels, how to measure localisation, which shortcuts a model can
# learn, and how to compare two methods. Each is measured here, on the kit's phantoms or on
# simulated scores whose construction is stated, and the cards in section 8 quote these numbers.
#
# ### 7.1 The mean dilutes a small lesion
#
# An idealised error map: noise everywhere, whose overall level varies by about 20 % from image to
# image (a lognormal factor, as contrast and anatomy vary), plus an excess of 2 on the pixels of the
# phantom's lesion. SAGAN's score is the map's mean; the alternatives are the maximum and the mean of
# the top 1 % of pixels. The lesions shrink from the phantoms' usual size to a quarter of it.

# %%
from sklearn.metrics import roc_auc_score

from anomaly_lib.phantoms import draw_chest

rng_np = np.random.default_rng(0)
n_images, map_side, excess, top_share = 60 if SMOKE else 200, 64, 2.0, 0.01
top_k = int(top_share * map_side * map_side)
aggregations = {"mean (SAGAN)": lambda m: m.mean(axis=1), "max": lambda m: m.max(axis=1),
                f"top {top_share:.0%} mean": lambda m: np.sort(m, axis=1)[:, -top_k:].mean(axis=1)}
DILUTION = {}  # lesion scale → (lesion area share, {aggregation: AUC})
for lesion_scale in (1.0, 0.5, 0.25):
    lesions = np.stack([draw_chest(rng_np, map_side, abnormal=True, lesion_scale=lesion_scale).lesion_mask
                        for _ in range(n_images)])  # (n, H, W) bool
    def noise():
        return np.abs(rng_np.normal(0, 1, (n_images, map_side, map_side))) * rng_np.lognormal(0, 0.2, (n_images, 1, 1))
    error_maps = np.concatenate([noise(), noise() + excess * lesions]).reshape(2 * n_images, -1)  # (2n, H·W)
    map_labels = np.r_[np.zeros(n_images), np.ones(n_images)]
    DILUTION[lesion_scale] = (lesions.mean(), {name: roc_auc_score(map_labels, aggregate(error_maps))
                                                 for name, aggregate in aggregations.items()})
    share, aucs_by_name = DILUTION[lesion_scale]
    print(f"lesion scale {lesion_scale}: lesion = {share:.2%} of the image, it adds {excess * share:.3f} to the mean | "
          + ", ".join(f"{name} AUC {auc:.3f}" for name, auc in aucs_by_name.items()))

# %% [markdown]
# ### 7.2 An operating point from held-out normals, with its uncertainty
#
# Simulated scores: 100 held-out normal images, and a test set of 100 normal and 100 abnormal images
# (normals N(0, 1), abnormals N(1.5, 1)). The threshold is the 95 % quantile of the held-out normals
# (`anomaly_lib.thresholds.threshold_at_specificity`, what `--specificity 0.95` does); its sensitivity
# on the test set gets a bootstrap 95 % interval that resamples the held-out normals *and* the test
# images. Beside it, the two cutoffs the kit reads off the test ROC curve, which use the test labels.

# %%
from anomaly_lib.metrics import operating_point
from anomaly_lib.thresholds import threshold_at_specificity

heldout = rng_np.normal(0, 1, 100)
test_labels = np.r_[np.zeros(100), np.ones(100)]
test_scores = np.r_[rng_np.normal(0, 1, 100), rng_np.normal(1.5, 1, 100)]
held_threshold = threshold_at_specificity(heldout, 0.95, "simulated held-out normals").value
at_heldout = operating_point(test_labels, test_scores, held_threshold)
n_boot = 500 if SMOKE else 5000
boot_thresholds = np.quantile(rng_np.choice(heldout, (n_boot, heldout.size)), 0.95, axis=1)  # (n_boot,)
boot_normals = rng_np.choice(test_scores[:100], (n_boot, 100))  # (n_boot, 100) resampled test normals
boot_abnormals = rng_np.choice(test_scores[100:], (n_boot, 100))
SENS_CI = np.percentile((boot_abnormals >= boot_thresholds[:, None]).mean(axis=1), [2.5, 97.5])
SPEC_CI = np.percentile((boot_normals < boot_thresholds[:, None]).mean(axis=1), [2.5, 97.5])
test_report = roc_report(test_labels, test_scores)
print(f"held-out 95 % quantile {held_threshold:.2f}: test sensitivity {at_heldout.sensitivity:.2f} "
      f"[{SENS_CI[0]:.2f}, {SENS_CI[1]:.2f}], specificity {at_heldout.specificity:.2f} [{SPEC_CI[0]:.2f}, {SPEC_CI[1]:.2f}]")
for name, point in [("authors' cutoff (test labels)", test_report.authors_cutoff), ("Youden's J (test labels)", test_report.youden)]:
    print(f"{name:<30} threshold {point.threshold:.2f}: sensitivity {point.sensitivity:.2f}, specificity {point.specificity:.2f}")

# %% [markdown]
# ### 7.3 Localisation: pixel AUROC and PRO
#
# Two made-up detectors on the same phantoms. Both give abnormal images a hot spot of the same
# strength, so both separate the images perfectly; one puts it on the lesion, the other always in
# the same corner. Pixel AUROC ranks every pixel of the test set against the lesion masks; PRO
# (per-region overlap, Bergmann et al. 2020) averages, over the lesions, the share of each lesion's
# pixels above the threshold, and integrates that over the thresholds whose false-positive rate on
# normal pixels stays below 0.3. Both are the kit's (`anomaly_lib.metrics`), the ones `compare`,
# notebooks 06, 09 and 11 report.

# %%
from anomaly_lib.metrics import aupro, pixel_auroc

lesioned = [draw_chest(rng_np, map_side, abnormal=True) for _ in range(20)]
lesion_masks = np.stack([phantom.lesion_mask for phantom in lesioned])  # (20, H, W)
corner = np.zeros((map_side, map_side), bool)
corner[:8, :8] = True
background = lambda: rng_np.random((20, map_side, map_side))  # noqa: E731 (a map of uniform noise)
on_lesion = background() + 2 * lesion_masks
in_corner = background() + 2 * corner
LOCALISATION = {}
for name, maps_ in [("on the lesion", on_lesion), ("in a fixed corner", in_corner)]:
    image_auc = roc_auc_score(np.r_[np.zeros(20), np.ones(20)],
                              np.r_[background().reshape(20, -1).max(1), maps_.reshape(20, -1).max(1)])
    LOCALISATION[name] = (image_auc, pixel_auroc(maps_, lesion_masks), aupro(maps_, lesion_masks))
    print(f"hot spot {name:<18}: image AUC {LOCALISATION[name][0]:.2f} | pixel AUROC {LOCALISATION[name][1]:.2f} | "
          f"PRO {LOCALISATION[name][2]:.2f}")

# %% [markdown]
# ### 7.4 A shortcut the synthetic anomaly offers: its seam
#
# `paste_anomalies` blends a square of another image with one α inside the square and 0 outside, so
# the pasted square has a straight-edged step at its border, which real lesions do not have. A
# network trained to remove synthetic anomalies can learn to look for that edge. Measure it: the
# mean horizontal gradient on the square's left and right borders, before and after pasting.

# %%
phantom_images = torch.from_numpy(np.stack([draw_chest(rng_np, map_side, abnormal=False).image
                                            for _ in range(40)])).float()[:, None] / 127.5 - 1  # (40, 1, H, W)
pasted, seam_masks = paste_anomalies(phantom_images, phantom_images.roll(1, dims=0), generator=rng)
seam_masks = seam_masks[:, 0]  # (40, H, W) bool
edge = seam_masks[:, :, 1:] != seam_masks[:, :, :-1]  # (40, H, W − 1): a step across the square's side
gradient_before = (phantom_images[:, 0, :, 1:] - phantom_images[:, 0, :, :-1]).abs()
gradient_after = (pasted[:, 0, :, 1:] - pasted[:, 0, :, :-1]).abs()
SEAM = (gradient_before[edge].mean().item(), gradient_after[edge].mean().item(), gradient_before.mean().item())
print(f"mean |horizontal step| on the square's sides: {SEAM[0]:.3f} before pasting, {SEAM[1]:.3f} after "
      f"(the image's average step: {SEAM[2]:.3f})")

# %% [markdown]
# ### 7.5 Comparing two methods: pair the differences
#
# Two methods that score the same 200 test images in each of 3 seeds. Both scores share each image's
# own difficulty (a term that moves both); method B is slightly better. The difference of AUCs gets a
# bootstrap interval twice: resampling the test images *once* for both methods (paired), and
# resampling them independently for each (unpaired, as two separate tables would suggest).

# %%
n_test_images, seeds = 200, 3
pair_labels = np.r_[np.zeros(100), np.ones(100)]
difficulty = rng_np.normal(0, 1, n_test_images) + pair_labels  # shared by both methods
method_a = [difficulty + rng_np.normal(0, 0.5, n_test_images) for _ in range(seeds)]  # (seeds, images)
method_b = [difficulty + 0.25 * pair_labels + rng_np.normal(0, 0.5, n_test_images) for _ in range(seeds)]


def pair_auc(scores, normal_picks, abnormal_picks):
    """AUC from its definition, the share of (abnormal, normal) pairs ranked right, on resampled images."""
    return (scores[100 + abnormal_picks][:, None] > scores[normal_picks][None, :]).mean()


differences = {"paired": [], "unpaired": []}
for _ in range(200 if SMOKE else 2000):
    picks = (rng_np.choice(100, 100), rng_np.choice(100, 100))  # (normals, abnormals) for method A
    other = (rng_np.choice(100, 100), rng_np.choice(100, 100))
    for kind, b_picks in (("paired", picks), ("unpaired", other)):
        differences[kind].append(np.mean([pair_auc(b, *b_picks) - pair_auc(a, *picks)
                                          for a, b in zip(method_a, method_b)]))
PAIRED = {kind: np.percentile(values, [2.5, 97.5]) for kind, values in differences.items()}
observed = np.mean([roc_auc_score(pair_labels, b) - roc_auc_score(pair_labels, a) for a, b in zip(method_a, method_b)])
print(f"AUC(B) − AUC(A), mean over {seeds} seeds: {observed:+.3f}")
for kind, (low_ci, high_ci) in PAIRED.items():
    print(f"  {kind:<8} 95 % interval [{low_ci:+.3f}, {high_ci:+.3f}], width {high_ci - low_ci:.3f}")

# %% [markdown]
# ## 8. Mock interview
#
# More than thirty questions an informed interviewer asks, follow-ups included (marked ↳). Answer
# aloud, then open the answer. Every number in the answers is filled in from the code.

# %%
CARDS = [
    # (group, question, answer); a question starting with "↳" is a follow-up to the one before
    ("SAGAN", "What data does SAGAN train on? Does it need only normal images?",
     f"No. It is semi-supervised: labeled normal images, an unlabeled pool of the same size whose first "
     f"int(N·ar) images are abnormal (ar = {cfg.ar}), and synthetic anomalies made from the normals. The "
     f"adversarial loss uses the unlabeled pool, the identity loss the normals, the MSE loss the synthetic "
     f"anomalies."),
    ("SAGAN", "Why does the generator work on windows rather than the whole image?",
     f"Each {cfg.image_size}² image is cut into {cfg.num_memory} windows of {ws}² that one shared generator "
     f"reconstructs separately, at a finer scale per window; the windows are stitched back before the critic "
     f"and the score, so the adversarial signal still comes from whole images. Nothing else connects the "
     f"windows inside the generator."),
    ("SAGAN", "What are the position codes, and where do they enter the network?",
     f"The window index in binary, {codes.shape[1]} bits for {cfg.num_memory} windows (the first bit is always "
     f"0), broadcast as constant channels and appended after enc_layer1 and enc_layer2 (then a 1×1 mixer, "
     f"p_bn1 / p_bn2) and at the start of the bottleneck bn2."),
    ("SAGAN", "↳ Do the position codes work?", POSITION_CODE_ANSWER
     + f" (Measured in section 5, E7: the output changes by at most {CODES_EFFECT:.1e} when all codes are zeroed.)"),
    ("SAGAN", "Walk me through the generator's shapes for one window.",
     f"stem {side('layer1')}, encoder {side('p_bn1')} → {side('p_bn2')} → {side('enc_layer3')}, bottleneck "
     f"{side('bn2')} with {cfg.g_repeat_num} residual blocks, gated decoder {side('dec_layer1')} → "
     f"{side('dec_layer2')} → {side('dec_layer3')}, multi-scale concat {multi_scale}@{ws}, bn3 {side('bn3')}, "
     f"conv {side('conv')}, then tanh(r + x). {g_params['(model)'] / 1e6:.1f} M parameters, "
     f"{g_params['bn2'] / 1e6:.1f} M of them in bn2."),
    ("SAGAN", "What does an attention gate do here?",
     "It multiplies an encoder skip feature by a map ψ ∈ (0, 1) computed from that skip and the decoder's "
     "feature (1×1 convs, InstanceNorm, ReLU, then a 1×1 conv to one channel, InstanceNorm and a sigmoid). "
     "The intent is that the decoder chooses where the skip passes. The top gate uses the bottleneck "
     "embedding as both inputs."),
    ("SAGAN", "↳ Can a gate close a skip, so that a lesion is not copied to the output?",
     f"Not in the published network. The one-channel InstanceNorm before the sigmoid standardises ψ's logits "
     f"per window, so the sigmoid always sees mean 0 and variance 1 and ψ's mean over a window stays near 0.5 "
     f"whatever the weights: {window_means['bias −50'].mean():.3f} with a bias of −50 on ψ's convolution "
     f"(section 5, E14). The gate can move weight between pixels of a window, never shut the whole skip. To "
     f"let it close: drop that norm (E14) or move it before ψ's convolution (notebook 03, exercise 5)."),
    ("SAGAN", "Why a residual head tanh(r + x)? What happens in training mode?",
     f"tanh keeps the output in [−1, 1], and the input x reaches the output directly. But copying a pixel is "
     f"not r = 0, which gives tanh(x): it needs r = atanh(x) − x, {needed[1]:+.2f} at x = −0.9 and unbounded "
     f"towards ±1 (section 5, E13). In train mode each pixel of r is kept with probability {KEEP_PROBABILITY} and otherwise replaced by x, before the tanh, so "
     f"those pixels come out as tanh(2x), not as the input (section 5, E6)."),
    ("SAGAN", "Why WGAN-GP rather than a discriminator with a BCE loss?",
     "A Wasserstein critic gives useful gradients even when real and generated images are easy to tell "
     "apart, where a saturated BCE discriminator gives almost none; the gradient penalty keeps the critic "
     "close to 1-Lipschitz without weight clipping. It makes training more stable; it does not guarantee "
     "that nothing collapses."),
    ("SAGAN", "↳ Write the gradient penalty. Where is it evaluated?",
     f"λ_gp · mean over images of (‖∇ D(x̂)‖₂ − 1)², with λ_gp = {cfg.lambda_gp:g}, at x̂ = u·x_B + (1 − u)·G(x_A), "
     f"one u ~ U(0, 1) per image: between real normals and reconstructions of unlabeled images."),
    ("SAGAN", "Is SAGAN's critic a PatchGAN?",
     f"Not at the authors' size: at {cfg.image_size}² its score map is {tuple(critic_score_shape[2:])}, one "
     f"unbounded score per image. Only on larger images would the same layers give a grid of patch scores."),
    ("SAGAN", "What do the identity and the anomaly losses teach? Sums or means?",
     f"Identity, mean |x_B − G(x_B)| with weight {cfg.lambda_id:g}: leave normal images alone. Anomaly removal, "
     f"mean (x_B − G(x_B′))²: map a synthetic anomaly back to its clean image. Both are means over pixels "
     f"and images, not sums (section 5, E4)."),
    ("SAGAN", "Why does the generator step only every n_critic iterations?",
     f"The generator's gradient comes through the critic, so the critic should be close to its optimum for "
     f"the current generator. SAGAN uses n_critic = {cfg.n_critic}: the critic steps every iteration, the "
     f"generator when (i + 1) % n_critic == 0."),
    ("SAGAN", "How is a synthetic anomaly made?",
     f"Pick another normal image (never the same one), cut a square centred in the central "
     f"{cfg.core_percent:.0%} of each axis, with a half-width drawn from round(0.05·W) up to (not including) "
     f"round(0.2·W), and blend it in with one alpha ~ U(0, 1): (1 − mask)·image + mask·source."),
    ("SAGAN", "How do you turn a reconstruction into a score and a heatmap?",
     "The map is |x − G(x)| / 2 (the /2 maps the [−1, 1] difference to [0, 1]); the score is its mean, "
     "averaged over images that share a study id. The heatmap is that map: no gradients, so not Grad-CAM."),
    ("SAGAN", "How does SAGAN's learning rate change during training?",
     f"Adam at {cfg.g_lr} for both networks, betas ({cfg.beta1}, {cfg.beta2}). Over the last "
     f"{cfg.num_iters_decay:,} of {cfg.num_iters:,} iterations the kit's default lowers it to 0 in a staircase: "
     f"every {cfg.lr_update_step} iterations it is set to lr·(T − t)/T_decay, the straight line's value. The "
     f"authors' rule, kept as lr_decay='reference', subtracts lr / num_iters_decay every {cfg.lr_update_step} "
     f"iterations, so with their defaults the rate falls by only {1 / cfg.lr_update_step:.1%} (section 5, E12)."),
    ("SAGAN", "↳ What does InstanceNorm do at test time in this generator?",
     f"{len(tracked)} of its {len(norms)} InstanceNorms keep running statistics, as in the authors' code, so in "
     f"eval mode they normalise with those averages, not per image; only the position mixers and the gates "
     f"normalise per image (section 5, E8)."),
    ("SWSSL", "Why sliding windows? How many per image?",
     f"Lesions are small in high-resolution images, and shrinking the image to a network's input size would "
     f"erase them. With patch {swssl.patch_size} and step {swssl.step_size} on {swssl.image_size[0]}² images "
     f"there are ({swssl.image_size[0]} − {swssl.patch_size}) // {swssl.step_size} = {swssl_grid.rows} starts "
     f"per axis, {swssl_grid.positions} windows; the last valid start is skipped, as in the authors' code."),
    ("SWSSL", "What is one training item?",
     f"A non-black grid patch, one augmented view of it, one augmented view of its inverted copy (255 − "
     f"patch), and a different non-black grid patch within ±{MAX_NEIGHBOUR_OFFSET} steps with its target "
     f"similarity g(dx) + g(dy)."),
    ("SWSSL", "↳ Why does SWSSL invert a view?",
     "Inversion keeps every edge, outline and texture but flips every intensity, so the only way to match a "
     "patch with its negative is to encode structure, which is what a lesion changes, instead of brightness. "
     f"It is a hard positive pair. The authors' run notes: {SWSSL_CHEST_AUC['without inverted view']} AUC "
     f"without it, {SWSSL_CHEST_AUC['full model']} with it (chest, one run each)."),
    ("SWSSL", "What is the neighbour term, and can the loss meet its targets?",
     f"Σ |σ(cos(f1, f_n)) − t|, with t = g(dx) + g(dy) between {min(targets):.2f} and {max(targets):.2f}. "
     f"σ(cos) only reaches [σ(−1), σ(1)] ≈ [{SIGMOID_RANGE[0]:.2f}, {SIGMOID_RANGE[1]:.2f}], so "
     f"{len(OUT_OF_REACH)} of the {len(DISTINCT_TARGETS)} distinct targets cannot be met "
     f"({', '.join(f'{t:.3g}' for t in OUT_OF_REACH)}). A target below 0.5 needs a negative cosine: "
     f"{apart} of {len(targets)} offsets push the neighbour apart. Without the term: "
     f"{SWSSL_CHEST_AUC['without neighbour term']} AUC (authors' run notes)."),
    ("SWSSL", "Explain the twin loss. Why z-score over the batch?",
     f"Each of the {wide.width} projection features is z-scored over the batch of {swssl.batch_size}; "
     f"C = z1ᵀz2 / B is the features' cross-correlation between the two views, and Σ(C_ii − 1)² asks each "
     f"feature to vary across patches in the same way in both views. A feature that does not vary has "
     f"nothing to correlate, so collapse scores badly. Off-diagonal terms weigh only "
     f"{inspect.signature(twin_loss).parameters['off_diagonal_weight'].default:g}."),
    ("SWSSL", "↳ What goes wrong with the course notebook's version of that loss?",
     f"It L2-normalises rows and compares patches: S = n1 n2ᵀ / B is B × B, so S_kk = cos / B ≤ 1 / B can "
     f"never reach 1; the loss has a floor (B − 1)² / B ({(swssl.batch_size - 1) ** 2 / swssl.batch_size:.1f} "
     f"at B = {swssl.batch_size}), a nearly constant gradient, and collapse counts as a perfect answer."),
    ("SWSSL", "Which output is used for scoring: the embedding or the projection?",
     "The pooled backbone embedding. The projector only serves the training loss; it absorbs what is "
     "specific to that objective, and the layer before it transfers better (the SimCLR and Barlow Twins "
     "habit). Notebook 09's exercise scores with the projection for comparison."),
    ("SWSSL", "How does the authors' scoring work, and how does patch k-NN differ?",
     "Authors: for each channel, the L2 distance over all window positions to each training image, the "
     "minimum over training images, then the maximum over channels: no map. Patch k-NN: for each window, "
     "the distance over channels to the nearest training windows at the same position, then the maximum "
     "over windows: it gives a heatmap and tolerates normal images assembled from different training images."),
    ("SWSSL", "How big is the feature bank, and how do you fit it?",
     f"{n_bank:,} normal training images × {wide.width} channels × {swssl_grid.positions} positions: "
     f"{bank_gb:.1f} GB in float16, twice that in the authors' float32, plus a same-size temporary in their "
     f"scoring. The kit writes it to a .npy file image by image and streams it in chunks through numpy.memmap."),
    ("SWSSL", "What dominates the compute of a full SWSSL run?",
     f"Evaluation: every one of the {swssl_grid.positions} windows of every training and test image goes "
     f"through the backbone, ({n_bank:,} + {n_test}) × {swssl_grid.positions} windows per evaluation, while a "
     f"training epoch is one patch triple per image (notebook 09 estimates both)."),
    ("SWSSL", "Why does a resizing augmentation hurt?",
     "It teaches invariance to scale, but in a radiograph size carries meaning and test windows are never "
     f"resized. The authors' run notes: {SWSSL_CHEST_AUC['with resizing augmentation']} AUC with it "
     f"(their shorthand '{SWSSL_SHORTHAND['with resizing augmentation']}'), {SWSSL_CHEST_AUC['full model']} "
     f"without (chest, one run each)."),
    ("Both", "Compare SAGAN and SWSSL in one sentence each: data, model, score.",
     "SAGAN: semi-supervised (normals, an unlabeled pool with abnormal images, synthetic anomalies); a "
     "window-wise generator with a WGAN-GP critic; score = reconstruction error. SWSSL: normal images only; "
     "a self-supervised patch encoder; score = distance of test windows to normal training windows."),
    ("Evaluation", "What do AUC and AP measure?",
     "AUC: the chance that a random abnormal image scores above a random normal one; threshold-free and "
     "unchanged by the class balance (chance 0.5). AP: the area under precision against recall (chance = "
     "the share of abnormal images)."),
    ("Evaluation", "↳ What does AP tell you that AUC does not?",
     "How clean the top of the ranking is, at the prevalence of the test set. With rare anomalies a model "
     "can reach a high AUC while most images it flags are normal; AP (precision) shows that, AUC does not. "
     "So AP values are only comparable at the same prevalence."),
    ("Evaluation", "Which thresholds does the kit report?",
     "The authors' cutoff, the ROC point where sensitivity and specificity are closest (tpr ≈ 1 − fpr), and "
     "Youden's J, the point that maximises sensitivity + specificity; they can differ (section 5, E9). An "
     "image is abnormal when its score is at or above the threshold."),
    ("Evaluation", "↳ Why is selecting on the test set a problem?",
     f"It uses the test labels to choose the model, so the reported number is the best of many noisy "
     f"estimates: biased upwards (section 5, E10). Both authors' scripts do it; the kit defaults to the last "
     f"checkpoint (SAGAN: select_on={cfg.select_on!r}, SWSSL: selection={swssl.selection!r}) and warns when "
     f"test selection is asked for."),
    ("Evaluation", "↳ Then how would you select a model without abnormal validation images?",
     "Fix the training length in advance and keep the last checkpoint, or use a label-free criterion: "
     "SAGAN's synthetic-val scores held-out normals with synthetic anomalies; for SWSSL, the distance of "
     "held-out normal images to the bank. Score the test set once, at the end."),
    ("Evaluation", "The kit's demos reach high AUCs on phantoms. What does that say about real X-rays?",
     "Little: phantoms are simple and their lesions are drawn to be visible. They prove that the code runs "
     "end to end and that the scores move the right way; the published AUCs come from real data and long "
     "training."),
    ("Evaluation", "SAGAN scores an image by the mean of its error map. What does that do to a small lesion?",
     f"It dilutes it: a lesion covering a share a of the image adds only a × its excess error to the mean, while "
     f"the error's overall level varies from image to image. On the phantoms (section 7.1) a lesion of "
     f"{DILUTION[1.0][0]:.1%} of the image gives the mean an AUC of {DILUTION[1.0][1]['mean (SAGAN)']:.2f} against "
     f"{DILUTION[1.0][1]['max']:.2f} for the maximum and {DILUTION[1.0][1][f'top {top_share:.0%} mean']:.2f} for the "
     f"top-{top_share:.0%} mean; at {DILUTION[0.25][0]:.2%} the mean is at chance ({DILUTION[0.25][1]['mean (SAGAN)']:.2f}). "
     f"Max or top-k keeps the lesion's signal, at the price of more noise from single pixels: top-k is the "
     f"usual compromise, with k chosen on validation data, not on the test set."),
    ("Evaluation", "How would you choose an operating point without test labels, and how sure is it?",
     f"Fix a specificity, say 95 %, and take that quantile of held-out normal scores (the kit's --specificity). "
     f"Report the test sensitivity with a bootstrap interval that resamples the held-out normals and the test "
     f"images: in section 7.2, {at_heldout.sensitivity:.2f} [{SENS_CI[0]:.2f}, {SENS_CI[1]:.2f}], and the test "
     f"specificity came out {at_heldout.specificity:.2f} [{SPEC_CI[0]:.2f}, {SPEC_CI[1]:.2f}], not exactly 0.95. "
     f"The authors' cutoff and Youden's J are read off the test ROC curve with the test labels: their "
     f"sensitivities ({test_report.authors_cutoff.sensitivity:.2f}, {test_report.youden.sensitivity:.2f}) are "
     f"optimistic and no deployment could have chosen them."),
    ("Evaluation", "How do you measure localisation? Why can image AUC hide a bad model?",
     f"Pixel AUROC ranks every pixel against the lesion masks; PRO averages, over lesions, the share of each "
     f"lesion above the threshold, up to a false-positive rate of 0.3, so small lesions count as much as large "
     f"ones. A model that fires in a fixed wrong place on abnormal images reaches image AUC "
     f"{LOCALISATION['in a fixed corner'][0]:.2f} but pixel AUROC {LOCALISATION['in a fixed corner'][1]:.2f} and "
     f"PRO {LOCALISATION['in a fixed corner'][2]:.2f} on the phantoms (section 7.3): the image score can be right "
     f"for the wrong reason."),
    ("Data", "Which shortcuts and confounders would you look for?",
     f"Anything that differs between normal and abnormal images besides the disease: in a public chest set, "
     f"the patients' age, the hospital or scanner, text markers and burnt-in labels, positioning and devices "
     f"(check the metadata and where the heatmap fires). In SAGAN's training the synthetic anomaly itself "
     f"is one: a square blended with one α has a straight seam, whose mean step ({SEAM[1]:.3f}) is "
     f"{SEAM[1] / SEAM[0]:.1f}× the image's own there (section 7.4), a cue real lesions do not have. "
     f"Soft-edged or varied shapes remove it."),
    ("Evaluation", "How do you compare two methods fairly?",
     f"On the same test images and seeds, compare the per-seed differences, and bootstrap the images once "
     f"for both methods: image difficulty then cancels. In section 7.5 the paired 95 % interval of AUC(B) − "
     f"AUC(A) is [{PAIRED['paired'][0]:+.3f}, {PAIRED['paired'][1]:+.3f}]; resampled separately it is "
     f"[{PAIRED['unpaired'][0]:+.3f}, {PAIRED['unpaired'][1]:+.3f}], {np.ptp(PAIRED['unpaired']) / np.ptp(PAIRED['paired']):.1f}× "
     f"wider. Report mean ± std over seeds, with a baseline beside it (notebook 11)."),
    ("Practice", "What would you change first in either method?",
     "Examples worth defending: give SAGAN's position codes a way through (after the norm, or CoordConv-style "
     "maps); choose checkpoints without test labels; for SWSSL, score windows per position (patch k-NN) for "
     "localisation, and cut the evaluation cost (fewer windows, mixed precision, a smaller bank)."),
]
GROUPS = list(dict.fromkeys(group for group, _, _ in CARDS))
assert len(CARDS) >= 30
print(f"{len(CARDS)} questions:", ", ".join(f"{sum(g == group for g, _, _ in CARDS)} {group}" for group in GROUPS),
      f"| {sum(q.startswith('↳') for _, q, _ in CARDS)} follow-ups")

# %% [markdown]
# ### Every answer, checked
#
# Each card that states a fact about the code or the maths is checked here, against the kit or
# against the evidence cells above; a card whose answer the code contradicts stops the notebook.
# `card(fragment)` finds the one card whose question contains the fragment.

# %%
from pathlib import Path

from anomaly_lib.phantoms import make_phantom_dataset
from sagan_lib import from_windows
from sagan_lib.data import MedADTrainSet, unlabeled_mix
from sagan_lib.losses import gradient_penalty, interpolate
from sagan_lib.scoring import score_images
from sagan_lib.step import sagan_step
from sagan_lib.step_recorder import RecordingEngine
from sagan_lib.synthetic_anomaly import pick_sources
from sagan_lib.train import SaganTrainer, synthetic_validation
from swssl_lib.augment import CHEST, augmentation, invert
from swssl_lib.bank import FeatureBank
from swssl_lib.sampling import sample_patch_pair
from swssl_lib.sliding import sliding_window_features


def card(fragment: str) -> str:
    """The question of the one card that contains `fragment`."""
    matches = [question for _, question, _ in CARDS if fragment in question]
    assert len(matches) == 1, f"{fragment!r} matches {len(matches)} cards"
    return matches[0]


# A tiny SAGAN run through the public trainer (phantoms at 64², networks of width 8) for the cards on the
# update order and the learning rate: one history entry per iteration (log_step=1).
OUT = Path("outputs") / "10_interview_quickref"
tiny_counts = {"train_normal": 4, "unlabeled_normal": 2, "unlabeled_abnormal": 2, "test_normal": 1, "test_abnormal": 1}
tiny_data = make_phantom_dataset(OUT / "phantoms", "medad", image_size=64, counts=tiny_counts, seed=0)
tiny_set = MedADTrainSet(tiny_data, image_size=64, progress=False)
sagan_batch = tiny_set.batch(torch.arange(2))[:3]  # x_A, x_B, x_B′: each (2, 1, 64, 64)


def tiny_trainer(name: str, **settings) -> SaganTrainer:
    """A SaganTrainer at 64² with width-8 networks and batch 2, writing under OUT/name."""
    config = SaganConfig(data_root=str(tiny_data), image_size=64, g_conv_dim=8, d_conv_dim=8, g_repeat_num=1,
                         batch_size=2, log_step=1, model_save_dir=str(OUT / name),
                         sample_dir=str(OUT / name / "samples"), **settings)
    return SaganTrainer(config, tiny_set, log=lambda *_: None)


# SAGAN's data: the unlabeled pool is the first int(N·ar) abnormal and the first N − int(N·ar) normal images
splits = {"train_normal": [f"n{i}" for i in range(10)], "unlabeled_abnormal": [f"a{i}" for i in range(10)],
          "unlabeled_normal": [f"u{i}" for i in range(10)]}
pool = unlabeled_mix(splits, cfg.ar)
check(card("What data does SAGAN"), len(pool) == 10 and pool[:int(10 * cfg.ar)] == splits["unlabeled_abnormal"][:6],
      f"N = 10, ar = {cfg.ar}: the pool is {pool[:2]}…{pool[-1:]}, {int(10 * cfg.ar)} abnormal first")

# windows are reconstructed independently: change window 1, window 0's output does not move
small_generator.eval()
windows_a = torch.rand(cfg.num_memory, 1, ws, ws) * 2 - 1  # one image's windows
windows_b = windows_a.clone()
windows_b[1] = -windows_b[1]
with torch.no_grad():
    independent = torch.allclose(small_generator(windows_a)[0], small_generator(windows_b)[0], atol=1e-6)
stitched = from_windows(to_windows(test_images, cfg.num_patch), cfg.num_patch)
check(card("work on windows"), independent and torch.equal(stitched, test_images),
      "window 0's output ignores window 1; windows stitch back to the image exactly")

check(card("What are the position codes"),
      tuple(codes.shape) == (cfg.num_memory, 3) and not codes[:, 0].any()
      and generator.p_bn1[0].in_channels == g_shape["enc_layer1"][1] + codes.shape[1],
      f"codes {tuple(codes.shape)}, first bit all 0; p_bn1 takes {g_shape['enc_layer1'][1]} + {codes.shape[1]} channels")
check(card("Do the position codes work"), CODES_EFFECT < 1e-4, f"output change {CODES_EFFECT:.1e} (E7)")
check(card("generator's shapes"), g_shape["(model)"] == tuple(windows.shape) and g_params["bn2"] / g_params["(model)"] > 0.3,
      f"output {g_shape['(model)']} = input; bn2 {g_params['bn2'] / g_params['(model)']:.0%} of the parameters")

gate_args = {}
hook = small_generator.gate1.register_forward_hook(lambda m, args, out: gate_args.update(args=args))
with torch.no_grad():
    small_generator(windows_a)
hook.remove()
check(card("What does an attention gate"),
      [type(m).__name__ for m in generator.gate1.psi] == ["Conv2d", "InstanceNorm2d", "Sigmoid"]
      and generator.gate1.psi[0].out_channels == 1 and gate_args["args"][0] is gate_args["args"][1],
      "ψ = conv 1×1 → InstanceNorm2d(1) → sigmoid; gate1 gets the embedding as both inputs")
check(card("Can a gate close a skip"), CHECKS.get("E14") is not None, CHECKS["E14"])
check(card("residual head"), "E13" in CHECKS and "E6" in CHECKS, f"{CHECKS['E13']}; {CHECKS['E6']}")

logit = torch.tensor(-10.0, requires_grad=True)  # a fake the discriminator rejects confidently
torch.log(1 - torch.sigmoid(logit)).backward()  # the generator's minimax BCE term
check(card("Why WGAN-GP"), abs(logit.grad.item()) < 1e-3,
      f"saturated BCE: gradient {logit.grad.item():.1e} at logit −10; a Wasserstein critic's is 1 everywhere")

weights = torch.randn(1, 1, 8, 8)  # a linear critic D(x) = Σ w·x has ‖∇D‖ = ‖w‖ everywhere
real_images, fake_images = torch.rand(4, 1, 8, 8), torch.rand(4, 1, 8, 8)
x_hat = interpolate(real_images, fake_images)
penalty = gradient_penalty((x_hat * weights).sum(dim=(1, 2, 3)), x_hat)
check(card("Write the gradient penalty"), torch.isclose(penalty, (weights.norm() - 1) ** 2, rtol=1e-4),
      f"linear critic: penalty {penalty:.4f} = (‖w‖ − 1)² {(weights.norm() - 1) ** 2:.4f}")
check(card("PatchGAN"), "E3" in CHECKS, CHECKS["E3"])
check(card("Sums or means"), "E4" in CHECKS and cfg.lambda_id == 1, CHECKS["E4"])
# n_critic, by behaviour. (1) The trainer: 6 iterations of a tiny run with the authors' n_critic, one
# history entry per iteration; an entry with a generator loss is an iteration where G stepped.
history = tiny_trainer("n_critic", n_critic=cfg.n_critic).train(num_iters=6, progress=False, overwrite=True)
generator_turns = [entry["iteration"] - 1 for entry in history if "G/loss" in entry]  # i counts from 0
# (2) The step: sagan_step with a recording engine updates the critic on every call and the generator
# only when told it is the generator's turn, with the critic frozen meanwhile.
recorder = RecordingEngine(cfg)
for i in range(6):
    sagan_step(recorder, *sagan_batch, generator_turn=i in generator_turns)
check(card("every n_critic"), len(history) == 6 and all("D/loss" in entry for entry in history)
      and generator_turns == [i for i in range(6) if (i + 1) % cfg.n_critic == 0]
      and recorder.updates.count("critic") == 6 and recorder.updates.count("generator") == len(generator_turns)
      and all(recorder.critic_frozen_during_generator_update),
      f"n_critic {cfg.n_critic}, 6 iterations: 6 critic steps, generator steps at iterations {generator_turns}")
sources = pick_sources(torch.arange(1000) % 10, 10, generator=rng)
check(card("synthetic anomaly made"), "E1" in CHECKS and "E2" in CHECKS and not (sources == torch.arange(1000) % 10).any(),
      "1000 draws of a source: never the image itself; centre and size as in E1, E2")
check(card("reconstruction into a score"), torch.allclose(score_images(small_generator, test_images, cfg.num_patch),
                                                          reconstruct(small_generator, test_images)[1].mean(dim=(1, 2, 3)))
      and "E5" in CHECKS,
      "score_images = mean of the map |x − G(x)| / 2")

# the learning-rate rule, from a tiny run with the authors' schedule shrunk (decay over the last 4 of 8
# iterations, updated every 2): the rate the trainer saved in its checkpoint after each iteration
rates = {}
for rule in ("linear", "reference"):
    trainer = tiny_trainer(f"lr_{rule}", num_iters=8, num_iters_decay=4, lr_update_step=2, lr_decay=rule)
    rates[rule] = []
    for iteration in range(1, 9):
        trainer.train(num_iters=iteration, progress=False, overwrite=iteration == 1)
        saved = torch.load(trainer.checkpoint_path, weights_only=False)  # the resume file: the optimisers' states
        rates[rule].append(saved["g_optimizer"]["param_groups"][0]["lr"] / cfg.g_lr)
print("lr / initial lr after iterations 1…8 (decay over the last 4, updated every 2):",
      {rule: [f"{r:.3f}" for r in values] for rule, values in rates.items()})
check(card("learning rate change"), rates["linear"][-1] == 0 and rates["linear"][5] == rates["linear"][6] > 0
      and math.isclose(rates["reference"][-1], 1 - 2 / 4) and "E12" in CHECKS,
      "the kit's rule is a staircase to 0; the authors' subtracts 1/4 of the rate at each of the 2 updates, "
      f"which at their defaults leaves {1 - 1 / cfg.lr_update_step:.1%} of it (E12)")
check(card("InstanceNorm do at test time"), "E8" in CHECKS, CHECKS["E8"])

check(card("Why sliding windows"), swssl_grid.rows == (swssl.image_size[0] - swssl.patch_size) // swssl.step_size,
      f"{swssl_grid.rows} starts per axis, {swssl_grid.positions} windows")
blobs = torch.zeros(256, 256, dtype=torch.uint8)
blobs[32:224, 32:224] = 100  # a non-black square in a black frame
pairs = [sample_patch_pair(blobs, swssl.patch_size // 4, swssl.step_size // 4, generator=rng) for _ in range(200)]
check(card("one training item"), all(p.cell != p.neighbour and max(abs(p.cell[0] - p.neighbour[0]), abs(p.cell[1] - p.neighbour[1]))
                                     <= MAX_NEIGHBOUR_OFFSET and p.similarity == similarity_table()[
                                         (abs(p.cell[0] - p.neighbour[0]), abs(p.cell[1] - p.neighbour[1]))] for p in pairs),
      f"200 draws: the neighbour is never the patch, within ±{MAX_NEIGHBOUR_OFFSET} steps, with the table's target")
patch_u8 = torch.randint(0, 256, (1, 16, 16), dtype=torch.uint8)
edges = lambda image: (image.float()[..., 1:] - image.float()[..., :-1]).abs()  # noqa: E731
check(card("Why does SWSSL invert"), torch.equal(invert(patch_u8).int(), 255 - patch_u8.int())
      and torch.equal(edges(invert(patch_u8)), edges(patch_u8))
      and SWSSL_CHEST_AUC["without inverted view"] < SWSSL_CHEST_AUC["full model"],
      "255 − patch keeps every edge's size; the authors' notes rank the inverted view")
check(card("neighbour term"), "S6" in CHECKS and len(OUT_OF_REACH) == 4 and len(DISTINCT_TARGETS) == 8,
      f"{len(OUT_OF_REACH)} of {len(DISTINCT_TARGETS)} targets out of reach; {CHECKS['S6']}")
views = torch.randn(swssl.batch_size, 64)
check(card("Explain the twin loss"), twin_loss(views, views) < twin_loss(views, torch.randn_like(views)) / 10
      and inspect.signature(twin_loss).parameters["off_diagonal_weight"].default == 1e-6,
      f"identical views {twin_loss(views, views):.3f}, independent views {twin_loss(views, torch.randn_like(views)):.1f}")
check(card("course notebook's version"), "S7" in CHECKS, CHECKS["S7"])
one_side = swssl.patch_size + swssl.step_size  # the smallest image with a grid
scored = sliding_window_features(patch_model, torch.rand(1, 3, one_side, one_side), swssl.patch_size, swssl.step_size)
with torch.no_grad():
    projection, embedding = patch_model(torch.rand(1, 3, swssl.patch_size, swssl.patch_size))
check(card("embedding or the projection"), scored.shape[-2] == embedding.shape[-1] == patch_model.width,
      f"scored features {tuple(scored.shape)}: {patch_model.width} channels, the embedding's width")
check(card("authors' scoring work"), sum("SWSSL: " in claim for claim in CHECKS) >= 2, "checked in section 4")
check(card("How big is the feature bank"), FeatureBank(1, 2, 3).dtype == np.float16
      and abs(bank_gb - n_bank * wide.width * swssl_grid.positions * 2 / 1e9) < 1e-9,
      f"FeatureBank stores float16: {bank_gb:.1f} GB")
evaluation_windows = (n_bank + n_test) * swssl_grid.positions
check(card("dominates the compute"), evaluation_windows > 100 * 3 * n_bank,
      f"{evaluation_windows:,} windows per evaluation, {3 * n_bank:,} patches per training epoch")
steps = [type(step).__name__ for step in augmentation(CHEST).transforms]
check(card("resizing augmentation hurt"), "RandomResizedCrop" not in steps
      and SWSSL_CHEST_AUC["with resizing augmentation"] < SWSSL_CHEST_AUC["full model"],
      f"the kit's chest views: {steps}")
check(card("Compare SAGAN and SWSSL"), PHASE_SPLITS["train"] == ("train_normal",) and cfg.ar > 0,
      "SWSSL trains on train_normal only; SAGAN's unlabeled pool holds abnormal images")

balanced_labels = np.r_[np.zeros(200), np.ones(200)]
balanced_scores = np.r_[rng_np.normal(0, 1, 200), rng_np.normal(1, 1, 200)]
pairwise = (balanced_scores[200:, None] > balanced_scores[None, :200]).mean()
rare = np.r_[np.tile(np.arange(200), 10), np.arange(200, 400)]  # every normal ten times: prevalence 1 in 11
rare_report = roc_report(balanced_labels[rare], balanced_scores[rare])
balanced_ap = roc_report(balanced_labels, balanced_scores).ap
check(card("What do AUC and AP measure"), abs(roc_report(balanced_labels, balanced_scores).auc - pairwise) < 1e-9
      and abs(rare_report.auc - pairwise) < 1e-9,
      f"AUC {pairwise:.3f} = share of correctly ranked pairs, the same at prevalence 1 in 11")
check(card("AP tell you that AUC"), rare_report.ap < balanced_ap - 0.2,
      f"same scores, prevalence 1/2 → 1/11: AUC {pairwise:.2f} both times, AP {balanced_ap:.2f} → {rare_report.ap:.2f}")
tie = operating_point(np.array([0, 1]), np.array([0.2, 0.5]), 0.5)
check(card("Which thresholds"), "E9" in CHECKS and tie.sensitivity == 1,
      "a score equal to the threshold counts as abnormal")
check(card("selecting on the test set"), "E10" in CHECKS and swssl.selection != "test", CHECKS["E10"])
check(card("without abnormal validation"), callable(synthetic_validation)
      and SaganConfig(select_on="synthetic-val").select_on == "synthetic-val",
      "SaganConfig accepts select_on='synthetic-val' (sagan_lib.train.synthetic_validation)")
check(card("What does that do to a small lesion"), abs(DILUTION[0.25][1]["mean (SAGAN)"] - 0.5) < 0.1
      and all(aucs_[1]["mean (SAGAN)"] < min(aucs_[1]["max"], aucs_[1][f"top {top_share:.0%} mean"])
              for aucs_ in DILUTION.values()),
      "on every lesion size the mean ranks images worse than max and top-k; at the smallest it is near chance")
check(card("operating point without test labels"),
      SENS_CI[0] < at_heldout.sensitivity < SENS_CI[1] and SENS_CI[1] - SENS_CI[0] > 0.1
      and test_report.youden.sensitivity > at_heldout.sensitivity,
      f"sensitivity interval {SENS_CI[1] - SENS_CI[0]:.2f} wide; the test-label cutoffs look better")
check(card("How do you measure localisation"), LOCALISATION["in a fixed corner"][0] == 1
      and LOCALISATION["in a fixed corner"][1] < 0.6 and LOCALISATION["on the lesion"][2] > LOCALISATION["in a fixed corner"][2],
      "a wrong-place model keeps image AUC 1 and loses pixel AUROC and PRO")
check(card("shortcuts"), SEAM[1] > 1.3 * SEAM[0], f"the seam's step grows {SEAM[1] / SEAM[0]:.1f}×")
check(card("How do you compare two methods"), np.ptp(PAIRED["paired"]) < np.ptp(PAIRED["unpaired"]) / 2,
      "the paired interval is less than half as wide")

ADVICE = {card("demos reach high AUCs"), card("change first")}  # judgement, not a fact about the code
unchecked = [question for _, question, _ in CARDS if question not in CHECKS and question not in ADVICE]
assert not unchecked, f"cards without a check: {unchecked}"
card_checks = sum(question in CHECKS for _, question, _ in CARDS)
print(f"\n{card_checks} of {len(CARDS)} cards checked ({len(ADVICE)} are advice); {len(ERRATA)} errata rows checked; "
      f"{len(CHECKS)} checks in all")

# %%
parts = []
for number, (group, question, answer) in enumerate(CARDS, start=1):
    parts.append(f"<p style='margin:0.6em 0 0.2em'><b>{number}.</b> <span style='color:gray'>[{group}]</span> "
                 f"{escape(question)}</p><details><summary>answer</summary><p style='margin-left:1.5em'>"
                 f"{escape(answer)}</p></details>")
display(HTML("<div style='max-width:820px'>" + "".join(parts) + "</div>"))

# %% [markdown]
# ### The quiz: keep score
#
# One question at a time: answer aloud, reveal, then mark whether you had it. The score counts your
# marks; "missed only" replays the ones you missed. Where no widget frontend runs (the automated tests,
# a static viewer, a plain terminal) the cell shows every question with its answer instead.

# %%
def static_quiz(cards) -> str:
    """Every question with its answer, as plain text."""
    return "\n\n".join(f"{n}. [{group}] {question}\n   → {answer}" for n, (group, question, answer) in enumerate(cards, 1))


def quiz_widget(cards):
    """A self-graded quiz over `cards` that keeps score."""
    import ipywidgets as widgets

    menu = widgets.Dropdown(options=["all", *GROUPS, "missed only"], description="cards")
    card_view, score_view = widgets.HTML(), widgets.HTML()
    reveal = widgets.Button(description="show answer", button_style="info")
    had_it = widgets.Button(description="✓ I had it", button_style="success")
    missed_it = widgets.Button(description="✗ I missed it", button_style="danger")
    state = {"deck": list(cards), "index": 0, "right": 0, "done": 0, "missed": [], "revealed": False}

    def render():
        score_view.value = f"<b>score: {state['right']} of {state['done']}</b>"
        if state["index"] >= len(state["deck"]):
            card_view.value = (f"<p>End of the deck: {state['right']} of {state['done']} right. Choose 'missed only' "
                               "to replay what you missed, or another deck.</p>")
            return
        group, question, answer = state["deck"][state["index"]]
        shown = f"<p><b>A.</b> {escape(answer)}</p>" if state["revealed"] else "<p><i>(answer aloud, then reveal)</i></p>"
        card_view.value = (f"<div style='max-width:760px'><p style='color:gray'>{group} · {state['index'] + 1} of "
                           f"{len(state['deck'])}</p><p><b>Q.</b> {escape(question)}</p>{shown}</div>")

    def choose_deck(change=None):
        chosen = menu.value
        if chosen == "missed only":
            state["deck"], state["missed"] = list(state["missed"]), []
        else:
            state["deck"] = [card for card in cards if chosen in ("all", card[0])]
        state.update(index=0, revealed=False)
        render()

    def grade(right):
        def on_click(button):
            if state["index"] >= len(state["deck"]):
                return
            state["done"] += 1
            state["right"] += int(right)
            if not right:
                state["missed"].append(state["deck"][state["index"]])
            state.update(index=state["index"] + 1, revealed=False)
            render()
        return on_click

    def show_answer(button):
        state["revealed"] = True
        render()

    menu.observe(choose_deck, names="value")
    reveal.on_click(show_answer)
    had_it.on_click(grade(True))
    missed_it.on_click(grade(False))
    render()
    return widgets.VBox([widgets.HBox([menu, score_view]), card_view, widgets.HBox([reveal, had_it, missed_it])])


try:
    quiz = quiz_widget(CARDS)
except ImportError:  # no ipywidgets: the static version
    print(static_quiz(CARDS))
else:
    from anomaly_lib.colab import show_widget

    # A frontend that renders widgets shows the quiz (ipywidgets 7 or 8). A static page shows a note
    # instead (the cards are listed above, answers folded); a plain terminal, every card with its answer.
    show_widget(quiz, static_quiz(CARDS), html=f"<p><i>The quiz ({len(CARDS)} cards, scored) needs a running "
                "notebook: open this one in Colab or JupyterLab. The cards are listed above, answers folded.</i></p>")

# %% [markdown]
# ## Where to go next
#
# - SAGAN in depth: notebooks 01 (data and synthetic anomalies), 02 (windows and position codes), 03
#   (the generator), 04 (critic and losses), 05 (training), 06 (scores and heatmaps).
# - SWSSL in depth: notebooks 07 (grid, neighbours, augmentations), 08 (model and twin loss), 09
#   (training, bank, scorings).
# - Real data: `data/README.md`; the libraries' READMEs list every departure from the authors' code.
