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

from anomaly_lib.colab import hidden_solution  # noqa: F401 (the exercises use it to fold their answers)
from anomaly_lib.device import describe_device, pick_device, smoke_mode

device = pick_device()
SMOKE = smoke_mode()  # KIT_SMOKE=1 shrinks sizes and iterations (the tests set it)
print("device:", describe_device(device), "| smoke mode" if SMOKE else "")

# %%
import inspect
from html import escape

import numpy as np
import torch
import torch.nn.functional as F
from IPython.display import HTML, Markdown, display

import sagan_lib.losses
import swssl_lib.loss
from anomaly_lib.metrics import roc_report
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
# never drift from the code. About 150 words for the minute, about 40 for the short version.

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
        f"its inverted copy and with its neighbours; a test window is abnormal when no normal training window at "
        f"the same place looks like it."
    ),
}
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
     "f_neg is a negative", "training sees normal images only; f_neg is a neighbour with a target similarity ≥ 0"),
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


for core in (cfg.core_percent, 0.8):
    _, masks = paste_anomalies(blank, source, core_percent=core, generator=rng)  # (n, 1, H, W) bool
    masks = masks[masks.flatten(1).any(dim=1), 0]  # (n, H, W), without the rare empty box (alpha = 0)
    top, bottom = extent(masks.any(dim=2))  # rows
    left, right = extent(masks.any(dim=1))  # columns
    row_sides, col_sides = bottom - top + 1, right - left + 1
    cut = row_sides != col_sides  # a square the border cut on one side is no longer square
    centres = (top + bottom + 1)[~cut] / 2
    print(f"core_percent {core}: centre rows {centres.min():.0f}…{centres.max():.0f}, "
          f"squares cut by the border {cut.float().mean():.1%}, sides {row_sides[~cut].min()}…{row_sides[~cut].max()} px")
low, high = round(0.05 * cfg.image_size), round(0.2 * cfg.image_size)
print(f"half-width = randint({low}, {high}) ∈ {{{low}, …, {high - 1}}}: the side is 2 × half-width")

# %% [markdown]
# ### E3 · One score per image, not a PatchGAN

# %%
print(f"critic score at {cfg.image_size}×{cfg.image_size}: {critic_score_shape} → one number per image")
with torch.no_grad():
    bigger = Discriminator(image_size=2 * cfg.image_size, conv_dim=8, repeat_num=cfg.d_repeat_num)
    score_map = bigger(torch.zeros(1, 1, 2 * cfg.image_size, 2 * cfg.image_size))[1]
print(f"the same critic on {2 * cfg.image_size}×{2 * cfg.image_size} images: {tuple(score_map.shape)} → "
      "only then does each score see part of the image, as a PatchGAN's would")

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

# %% [markdown]
# ### E8 · InstanceNorm in eval mode uses running statistics

# %%
import copy

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

# %% [markdown]
# ### E11 · SAGAN's optimiser settings are the authors' own
#
# The WGAN-GP paper (Gulrajani et al., 2017, Algorithm 1) uses λ = 10, $n_\text{critic}$ = 5 and Adam with
# learning rate $10^{-4}$ and betas (0, 0.9). SAGAN's settings:

# %%
print(f"SAGAN: λ_gp {cfg.lambda_gp}, n_critic {cfg.n_critic}, Adam lr {cfg.g_lr} (G) / {cfg.d_lr} (D), "
      f"betas ({cfg.beta1}, {cfg.beta2}), batch {cfg.batch_size}, {cfg.num_iters:,} iterations "
      f"({cfg.num_iters_decay:,} of them with a decaying rate)")

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
print(f"S7: identical views, B = {swssl.batch_size}: notebook variant {twin_loss(same, same, variant='notebook'):.2f} "
      f"= its floor (B − 1)²/B {(swssl.batch_size - 1) ** 2 / swssl.batch_size:.2f}")

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

# %% [markdown]
# ### S5 · `create_dataset` swaps what each dataset needs

# %%
tensor_image = torch.zeros(3, 16, 16)
try:
    tensor_image.size[0]  # the patch sampler's `img.size[0]`, after ToTensor
except TypeError as error:
    print("patch dataset after ToTensor:", type(error).__name__, "-", error)
print("the kit resizes by category, for training and scoring alike:", DEFAULT_IMAGE_SIZES)
for name, (height, width) in DEFAULT_IMAGE_SIZES.items():
    print(f"  {name}: {WindowGrid(height, width, swssl.patch_size, swssl.step_size).shape} windows (rows, cols)")

# %% [markdown]
# ### S6 · Normal images only, and no negatives

# %%
from swssl_lib.data import PHASE_SPLITS

targets = similarity_table().values()
print("splits read for training:", PHASE_SPLITS["train"])
print(f"neighbour targets range from {min(targets):.2f} to {max(targets):.2f}: a near neighbour should look "
      "alike, a far one need not; none is pushed away as a negative")

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
# output is $x \odot \psi$: the decoder decides, pixel by pixel, how much of the skip passes.
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
# batch; an epoch is one pass over the training set, about $N/B$ iterations. A linear decay lowers the
# rate step by step to 0 over the last iterations: $\text{lr}_t = \text{lr}_0 \cdot \frac{T - t}{T_\text{decay}}$
# for $t > T - T_\text{decay}$.
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
# ## 7. Mock interview
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
     "feature (1×1 convs, InstanceNorm, ReLU, sigmoid), so the decoder chooses where the skip passes. The "
     "top gate uses the bottleneck embedding as both inputs."),
    ("SAGAN", "Why a residual head tanh(r + x)? What happens in training mode?",
     f"Normal tissue needs r ≈ 0, an easy default, and tanh keeps the output in [−1, 1]. In train mode each "
     f"pixel of r is kept with probability {KEEP_PROBABILITY} and otherwise replaced by x, before the tanh, so "
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
     f"{cfg.num_iters_decay:,} of {cfg.num_iters:,} iterations the kit's default decays it linearly to 0. The "
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
     "It is a hard positive pair. The authors' notes: 81.02 AUC without it, 89.08 with it (chest)."),
    ("SWSSL", "What is the neighbour term, and can the loss meet its targets?",
     f"Σ |σ(cos(f1, f_n)) − t|, with t = g(dx) + g(dy) between {min(similarity_table().values()):.2f} and "
     f"{max(similarity_table().values()):.2f}. σ(cos) only reaches [σ(−1), σ(1)] ≈ [0.27, 0.73], so the "
     f"largest and the smallest targets cannot be met exactly. Without the term: 84.57 AUC (authors' notes)."),
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
     "resized. The authors' notes: 80.04 AUC with it, 89.08 without."),
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
    ("Practice", "What would you change first in either method?",
     "Examples worth defending: give SAGAN's position codes a way through (after the norm, or CoordConv-style "
     "maps); choose checkpoints without test labels; for SWSSL, score windows per position (patch k-NN) for "
     "localisation, and cut the evaluation cost (fewer windows, mixed precision, a smaller bank)."),
]
GROUPS = list(dict.fromkeys(group for group, _, _ in CARDS))
assert len(CARDS) >= 30
print(f"{len(CARDS)} questions:", ", ".join(f"{sum(g == group for g, _, _ in CARDS)} {group}" for group in GROUPS),
      f"| {sum(q.startswith('↳') for _, q, _ in CARDS)} follow-ups")

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
