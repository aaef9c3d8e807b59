# %% [markdown]
# # 10 · Interview quick reference: SAGAN and SWSSL on one page
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/anomaly-course-kit/anomaly-course-kit/blob/main/notebooks/10_interview_quickref.ipynb)
#
# **Learning goals**
# - Recite the shapes through SAGAN's generator and critic and through SWSSL's patch model, from tables generated live from the kit's models.
# - Write every loss of both methods as a formula, and point to the function that computes it.
# - Answer the classic design questions (windows, position codes, residual tanh, WGAN-GP, identity vs anomaly loss, sliding windows, inversion, neighbour term, AUC/AP and cutoffs) with a flashcard quiz.
#
# Nothing here trains; the notebook runs in seconds. Notebooks 02–09 explain each item in depth.

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
import inspect

import torch

import sagan_lib.losses
import swssl_lib.loss
from anomaly_lib.shapes import trace_shapes
from sagan_lib import Discriminator, Generator, to_windows
from swssl_lib import PatchModel

torch.manual_seed(0)

# %% [markdown]
# ## Part 1 · Shape cheat-sheets
#
# ### SAGAN generator (full size: `conv_dim=64`, `repeat_num=6`, `num_memory=4`)
#
# One 64×64 image in [−1, 1] becomes 4 windows of 32×32; every row below is per window (batch axis =
# images × 4). Position codes (3 bits) are appended after `enc_layer1`, after `enc_layer2` and at the
# start of `bn2`; the 1×1 convolutions `p_bn1`, `p_bn2` and the first layer of `bn2` fold them back in.

# %%
# NBVAL_CHECK_OUTPUT
generator = Generator(conv_dim=64, repeat_num=6, num_memory=4).eval()
image = torch.zeros(1, 1, 64, 64)  # (B, 1, 64, 64)
windows = to_windows(image, num_patch=2)  # (B·4, 1, 32, 32)
print(trace_shapes(generator, windows, max_depth=1))

# %% [markdown]
# Say it out loud: stem 64 → encoder 128@16 → 256@8 → 512@4 → bottleneck 512@4 (6 residual blocks) →
# gated decoder 256@8 → 128@16 → 64@32 → multi-scale concat 192@32 → `bn3` 64@32 → conv 1@32 →
# $\tanh(r + x)$. The bottleneck `bn2` holds 28.6 M of the 44.8 M parameters.
#
# ### SAGAN critic (WGAN, full size: `image_size=64`, `conv_dim=64`, `repeat_num=6`)
#
# It sees whole re-stitched 64×64 images: six stride-2 convolutions double the channels and halve the
# side, then a 3×3 convolution gives one unbounded score.

# %%
# NBVAL_CHECK_OUTPUT
critic = Discriminator(image_size=64, conv_dim=64, repeat_num=6).eval()
print(trace_shapes(critic, image, max_depth=2))

# %% [markdown]
# ### SWSSL patch model (`resnet18` for speed; the paper's `wide_resnet50_2` has width 2048 and 75,226,944 parameters)
#
# A 128×128 patch, grey repeated to 3 channels. `forward` returns `(projection, embedding)`: training
# uses the projection, scoring the embedding.

# %%
# NBVAL_CHECK_OUTPUT
patch_model = PatchModel(backbone="resnet18", pretrained=False).eval()
patches = torch.zeros(2, 3, 128, 128)  # (N, 3, patch, patch)
print(trace_shapes(patch_model, patches, max_depth=1))

# %% [markdown]
# With the authors' chest setting (1024² images, patch 128, step 32) every image gives
# $\lfloor (1024-128)/32 \rfloor = 28$ window starts per axis, $28 \times 28 = 784$ windows, each a
# 2048-d embedding: an image's features are $(2048, 784)$ and the training bank is
# $(N_\text{train}, 2048, 784)$.
#
# ## Part 2 · Losses beside the code that computes them
#
# ### SAGAN (x_A unlabeled, x_B labeled normal, x_B′ = x_B with a synthetic anomaly)
#
# $$L_D = -\mathbb{E}[D(x_B)] + \mathbb{E}[D(G(x_A))] + \lambda_{gp}\, \mathbb{E}\big[(\lVert \nabla_{\hat{x}} D(\hat{x}) \rVert_2 - 1)^2\big], \quad \hat{x} = u\,x_B + (1-u)\,G(x_A),\; u \sim U(0,1),\; \lambda_{gp} = 10$$
#
# $$L_G = \underbrace{-\mathbb{E}[D(G(x_A))]}_{\text{adversarial}} + \lambda_{id}\, \underbrace{\operatorname{mean}|x_B - G(x_B)|}_{\text{identity (L1)}} + \underbrace{\operatorname{mean}(x_B - G(x_B'))^2}_{\text{anomaly removal (MSE)}}, \quad \lambda_{id} = 1$$
#
# Score: $\operatorname{mean}\,|x - G(x)| / 2$ per image. The functions, as they are in `sagan_lib/losses.py`:

# %%
for function in (sagan_lib.losses.gradient_penalty, sagan_lib.losses.critic_loss, sagan_lib.losses.generator_loss):
    print(inspect.getsource(function))

# %% [markdown]
# ### SWSSL (f₁, f₂ projections of the two views, f_n of the neighbour, t its target)
#
# $$z = \frac{f - \operatorname{mean}_0 f}{\operatorname{std}_0 f}, \quad C = \frac{z_1^\top z_2}{B}, \quad
# L = \sum_i (C_{ii} - 1)^2 + 10^{-6} \sum_{i \ne j} C_{ij}^2 + \sum_k |\sigma(\cos(f_{1k}, f_{2k})) - 1| + \sum_k |\sigma(\cos(f_{1k}, f_{nk})) - t_k|$$
#
# with $t = g(d_x) + g(d_y)$, $g(d) = 0$ if $d = 3$ else $0.5/(d+1)$. The docstring of
# `swssl_lib.loss.twin_loss` states it (and the notebook variant); the neighbour terms are their own
# function:

# %%
help(swssl_lib.loss.twin_loss)
print(inspect.getsource(swssl_lib.loss.neighbour_terms))

# %% [markdown]
# Score (the authors'): $d[n,c] = \lVert B[n,c,:] - T[c,:] \rVert_2$, $\;\text{score} = \max_c \min_n d[n,c]$
# (`swssl_lib.score_reference`); per window: $m[p] = \min_n \lVert B[n,:,p] - T[:,p] \rVert_2$,
# $\;\text{score} = \max_p m[p]$ (`swssl_lib.score_patch_knn`, which gives the heatmap).
#
# ## Part 3 · Flashcards
#
# Read the question, answer aloud, then reveal. The menu picks SAGAN, SWSSL or evaluation cards.

# %%
CARDS = [
    # (topic, question, answer)
    ("SAGAN: windows",
     "Why does SAGAN's generator work on 2×2 windows of 32×32 instead of the whole 64×64 image?",
     "A shared generator then models local anatomy at a finer scale and sees four times as many samples "
     "per batch. The windows are stitched back (window_reverse) before the critic and the score, so "
     "the critic still judges whole images."),
    ("SAGAN: position codes",
     "What are the position codes, how many bits do they have, and where do they enter the network?",
     "A binary code of the window's index, int(log2(num_memory)) + 1 = 3 bits for 4 windows, broadcast "
     "as constant channels. They are appended after encoder 1 and encoder 2 (then a 1×1 conv, p_bn1 / "
     "p_bn2) and at the bottleneck (first 1×1 conv of bn2). Without them, similar-looking windows from "
     "different places would be indistinguishable to the shared weights."),
    ("SAGAN: residual tanh",
     "Why does the generator output tanh(r + x) rather than an image directly?",
     "It learns a correction r of its input: for normal tissue r ≈ 0 and the identity is easy; tanh keeps "
     "the output in the data range [−1, 1]. In training mode the authors also replace about 5 % of r's "
     "pixels by the input (a Bernoulli keep mask with p = 0.95) before the tanh."),
    ("SAGAN: WGAN-GP",
     "Why WGAN-GP, and what is the gradient penalty exactly?",
     "A Wasserstein critic gives smooth, informative gradients where a saturated BCE discriminator does "
     "not. The critic must be 1-Lipschitz; WGAN-GP asks for it softly: λ_gp · E[(‖∇D(x̂)‖₂ − 1)²] with "
     "λ_gp = 10 at x̂ = u·real + (1 − u)·fake, one u ~ U(0, 1) per image. The critic steps every "
     "iteration, the generator every second one (n_critic = 2)."),
    ("SAGAN: identity vs anomaly loss",
     "What do the identity loss and the anomaly (MSE) loss each teach the generator?",
     "Identity, L1(G(x_B), x_B) on labeled normals: leave normal images unchanged. Anomaly removal, "
     "MSE(G(x_B′), x_B) where x_B′ is x_B with a synthetic anomaly: turn an abnormal-looking image back "
     "into its clean version. Together with the adversarial term on unlabeled images, G learns to map "
     "anything to a normal-looking image, so anomalies show up in |x − G(x)|."),
    ("SAGAN: synthetic anomaly",
     "How is SAGAN's synthetic anomaly made?",
     "A square from another labeled normal image (never the same one) is blended in with alpha ~ U(0, 1). "
     "Its centre lies in the central 60 % of the image; its half-width is drawn from "
     "[round(0.05·W), round(0.2·W)). The mask is the square."),
    ("SAGAN: score",
     "How does SAGAN turn a reconstruction into an image score?",
     "score = mean |x − G(x)| / 2 over the pixels (the /2 maps the [−1, 1] difference to [0, 1]); "
     "scores of files sharing the name before '__' (slices of one study) are averaged."),
    ("SWSSL: sliding windows",
     "Why does SWSSL train and score on sliding windows, and how many windows does a 1024² image give?",
     "Lesions are small in high-resolution images; shrinking the image to a network's input size would "
     "erase them. With patch 128 and step 32 the authors use (1024 − 128) // 32 = 28 starts per axis "
     "(the last valid start is skipped), so 784 windows per image."),
    ("SWSSL: inversion",
     "Why is the second view the inverted patch, and what does the ablation say?",
     "Matching a patch with its negative forces the network to encode structure (edges, shapes, texture) "
     "rather than absolute intensity; it is a hard positive pair. The authors' notes: 89.08 AUC for the "
     "full model, 81.02 without the inverted view."),
    ("SWSSL: neighbour term",
     "What is the neighbour term and its target?",
     "A second grid patch within ±3 steps (never the patch itself, never black) should be similar in "
     "proportion to its distance: t = g(dx) + g(dy), g(d) = 0 if d = 3 else 0.5/(d + 1); loss "
     "Σ|σ(cos(f1, f_n)) − t|. Since σ(cos) ∈ [0.27, 0.73], targets 0.75 or ≤ 0.25 cannot be met "
     "exactly. Without the term: 84.57 AUC instead of 89.08."),
    ("SWSSL: resizing",
     "Why does a resizing (random-resized-crop) augmentation hurt SWSSL?",
     "It makes the network invariant to scale, but in radiographs size is informative (a vessel and a "
     "nodule can look alike up to scale), and test windows are never resized. The authors' note: 80.04 "
     "AUC with resizing vs 89.08."),
    ("SWSSL: twin loss variants",
     "How do the paper's twin loss and the course notebook's variant differ?",
     "Paper: z-score features over the batch, C = z1ᵀz2/B is dim × dim, ask C_ii = 1 (each feature "
     "invariant) with a 1e-6 off-diagonal weight. Notebook: L2-normalise rows, S = n1 n2ᵀ/B is "
     "batch × batch, so S_kk = cos/B ≤ 1/B never reaches 1: the loss has a floor (B − 1)²/B, a nearly "
     "constant gradient, and collapse counts as a perfect solution."),
    ("SWSSL: embedding vs projection",
     "Which output of the patch model is used for training, and which for scoring?",
     "Training: the projection (projector = Linear → BatchNorm1d → ReLU → Linear, no biases). Scoring: "
     "the pooled backbone embedding; the projector is discarded after training."),
    ("SWSSL: memory",
     "Why can't you hold the authors' feature bank in memory on Colab?",
     "5,216 images × 2048 channels × 784 positions × 4 bytes ≈ 33.5 GB in float32. The kit stores it as "
     "float16 in a .npy file and streams it through numpy.memmap, chunk by chunk, so memory stays flat."),
    ("SWSSL: two scorings",
     "How do score_reference and score_patch_knn differ?",
     "reference (the authors'): per channel, L2 distance over positions to each training image, min over "
     "training images, max over channels: a global comparison, no map. patch_knn: per position, L2 "
     "distance over channels to the k nearest training windows at that position, max over positions: "
     "local, and it gives a heatmap."),
    ("Evaluation: AUC and AP",
     "What do AUC and AP measure, and how do they differ?",
     "AUC: the probability that a random abnormal image scores above a random normal one; threshold-free "
     "and insensitive to class balance (chance = 0.5). AP: the area under the precision-recall curve; it "
     "depends on prevalence (chance = the share of abnormal images) and rewards ranking the most "
     "confident abnormal cases first."),
    ("Evaluation: cutoffs",
     "Which two thresholds does the kit report, and how do they differ?",
     "The authors' cutoff: the ROC point where tpr − (1 − fpr) is nearest 0, i.e. sensitivity ≈ "
     "specificity. Youden's J: the point maximising tpr − fpr, the largest sum, even if unbalanced. "
     "An image is called abnormal when score ≥ threshold."),
    ("Evaluation: model selection",
     "What is wrong with keeping the checkpoint with the best test AUC?",
     "It uses the test labels to choose the model, so the reported AUC is optimistically biased (the "
     "maximum of many noisy evaluations). Both authors' scripts do it; the kit defaults to the last "
     "checkpoint (SAGAN also offers synthetic-val) and warns when test selection is asked for."),
]
GROUPS = ["SAGAN", "SWSSL", "Evaluation"]  # each topic starts with its group
assert all(topic.split(":")[0] in GROUPS for topic, _, _ in CARDS)
print(f"{len(CARDS)} cards:", ", ".join(f"{sum(t.startswith(g) for t, _, _ in CARDS)} {g}" for g in GROUPS))

# %% [markdown]
# The quiz. In Colab or Jupyter, use the buttons; where no widget frontend runs (the automated
# tests), the cell prints the first card and the list of questions instead.

# %%
import ipywidgets as widgets
from IPython.display import display

from anomaly_lib.colab import enable_widgets

enable_widgets()  # on Colab, switch on the widget manager ipywidgets 8 needs; elsewhere a no-op

topic_menu = widgets.Dropdown(options=["all", *GROUPS], description="cards")
previous_button = widgets.Button(description="◀ previous")
reveal_button = widgets.Button(description="show answer", button_style="info")
next_button = widgets.Button(description="next ▶")
card_view = widgets.HTML()
state = {"index": 0, "revealed": False}


def deck():
    """The cards of the chosen group."""
    chosen = topic_menu.value
    return [card for card in CARDS if chosen == "all" or card[0].startswith(chosen)]


def render(change=None):
    cards = deck()
    state["index"] %= len(cards)
    topic, question, answer = cards[state["index"]]
    shown = f"<p><b>A.</b> {answer}</p>" if state["revealed"] else "<p><i>(think, then reveal)</i></p>"
    card_view.value = (f"<div style='max-width:720px'><p style='color:gray'>{topic} · card "
                       f"{state['index'] + 1} of {len(cards)}</p><p><b>Q.</b> {question}</p>{shown}</div>")


def step(offset):
    def on_click(button):
        state["index"] += offset
        state["revealed"] = False
        render()
    return on_click


def reveal(button):
    state["revealed"] = not state["revealed"]
    render()


def new_topic(change):
    state["index"], state["revealed"] = 0, False
    render()


previous_button.on_click(step(-1))
next_button.on_click(step(+1))
reveal_button.on_click(reveal)
topic_menu.observe(new_topic, names="value")
render()
display(widgets.VBox([topic_menu, widgets.HBox([previous_button, reveal_button, next_button]), card_view]))

# the static version: the first card in full, then every question
topic, question, answer = CARDS[0]
print(f"[{topic}]\nQ. {question}\nA. {answer}\n")
for number, (topic, question, _) in enumerate(CARDS, start=1):
    print(f"{number:2d}. ({topic}) {question}")

# %% [markdown]
# ## One-minute answers
#
# - **SAGAN** learns, from labeled normals, unlabeled images and synthetic anomalies, a generator that
#   turns any chest window into a normal-looking one; the anomaly score is how much it had to change
#   the image. Windows + position codes give local detail with global context; attention gates filter
#   the skips; a WGAN-GP critic keeps outputs realistic.
# - **SWSSL** never reconstructs: it learns patch features by self-supervision on normal images only
#   (two views, one inverted, plus a neighbour with a distance-based target), then calls a test window
#   abnormal when no training window looks like it.
#
# Back to the details: notebooks 02–06 (SAGAN), 07–09 (SWSSL), and `data/README.md` for the real
# datasets.
