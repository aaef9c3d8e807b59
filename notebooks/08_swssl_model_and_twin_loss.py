# %% [markdown]
# # 08 · SWSSL: the patch model and the twin loss
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/anomaly-course-kit/anomaly-course-kit/blob/main/notebooks/08_swssl_model_and_twin_loss.ipynb) [![Read it rendered](https://img.shields.io/badge/read-rendered-2ea44f)](https://anomaly-course-kit.github.io/anomaly-course-kit/08_swssl_model_and_twin_loss.html)
#
# **Learning goals**
# - Draw the patch model: ResNet body → global average pooling → projector, with every shape.
# - Tell the *embedding* from the *projection*, and say which one training uses and which one scoring uses.
# - Compute the twin loss by hand on a small batch, term by term, and match the library (and the authors' own numbers).
# - Explain the two variants: the paper's dimension×dimension correlation and the course notebook's batch×batch similarity, and why the second one cannot do its job.
# - Read the neighbour term through the sigmoid: which targets it can reach and which it cannot.

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
import json
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from anomaly_lib.figures import show_figure
from anomaly_lib.shapes import trace_shapes
from swssl_lib import PatchModel, TrainConfig, build_resnet, similarity_table, twin_loss

OUT = Path("outputs") / "08_swssl_model_and_twin_loss"
OUT.mkdir(parents=True, exist_ok=True)
FIXTURES = Path("..") / "tests" / "fixtures"  # reference numbers: the authors' code and the course notebook's
PAPER = TrainConfig()  # the authors' settings (batch size, backbone, …)
plt.rcParams.update({"font.size": 11, "figure.dpi": 90})


def show(fig, name):
    """Save the figure as OUT/name.png and display it."""
    show_figure(fig, name, OUT)

# %% [markdown]
# ## 1. The patch model
#
# SWSSL's network is deliberately plain: an ImageNet ResNet without its last two children (the
# average pooling and the classifier), then global average pooling, then a small **projector**:
#
# $$\text{Linear}(w, w) \rightarrow \text{BatchNorm1d}(w) \rightarrow \text{ReLU} \rightarrow \text{Linear}(w, w), \qquad \text{no biases},$$
#
# where $w$ is the backbone's feature width (printed below for the `resnet18` we use on CPUs and for
# the authors' `wide_resnet50_2`). `forward` returns two things:
#
# - the **embedding** $e$: the pooled backbone feature, $(N, w)$;
# - the **projection** $p$ = projector($e$), $(N, w)$.
#
# The authors hold the body as one `nn.Sequential` of the ResNet's children, so its layers are
# numbered rather than named. The numbering:

# %%
resnet = build_resnet("resnet18", pretrained=False)
kept = [name for name, _ in resnet.named_children()][:-2]  # without avgpool and fc
print("  ".join(f"backbone.{i} = {name}" for i, name in enumerate(kept)))

# %% [markdown]
# A shape table, recorded by forward hooks while four patches of the authors' size go through a
# randomly initialised `resnet18` patch model (`pretrained=False`, so nothing is downloaded):

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
model = PatchModel(backbone="resnet18", pretrained=False).eval()
patches = torch.zeros(4, 3, PAPER.patch_size, PAPER.patch_size)  # (N, 3, patch, patch): grey repeated to RGB
print(trace_shapes(model, patches, max_depth=2))

# %% [markdown]
# Reading the table:
#
# - The body divides the side by 32; the cell below prints what `layer4` gives for three patch sizes.
#   Pooling makes every patch size end in one vector of the width.
# - The projector keeps the width ($w \to w \to w$). Its first `BatchNorm1d` normalises over the
#   batch, so in training mode the model needs at least two patches per batch.
# - The model's own row shows its two outputs, `[projection, embedding]`.

# %%
with torch.no_grad():
    for side in (128, 64, 32):
        feature_map = model.backbone(torch.zeros(1, 3, side, side))  # (1, w, side/32, side/32)
        print(f"patch {side}×{side} → layer4 {tuple(feature_map.shape[1:])} → embedding ({model.width},)")

# %% [markdown]
# ## 2. Embedding or projection?
#
# **Training uses the projection**: the twin loss compares $p$ of the two views and of the
# neighbour. **Scoring uses the embedding**: after training, every sliding window is described by
# its pooled backbone feature $e$, and the projector is thrown away (`swssl_lib.sliding` calls
# `model.embed`). This is the usual self-supervised habit (SimCLR, Barlow Twins): the projector
# absorbs what is specific to the training objective, and the layer before it transfers better.

# %%
x = torch.rand(4, 3, PAPER.patch_size, PAPER.patch_size)
with torch.no_grad():
    projection, embedding = model(x)  # (4, w), (4, w)
    assert torch.allclose(embedding, model.embed(x))  # what scoring uses
    assert torch.allclose(projection, model.projector(embedding))  # what training uses
print("projection", tuple(projection.shape), "| embedding", tuple(embedding.shape))
print(f"embedding ≥ 0 everywhere (a pooled ReLU output): {bool((embedding >= 0).all())}; "
      f"projection has negative values too: {bool((projection < 0).any())}")

# %% [markdown]
# ### The authors' full-size model
#
# With `wide_resnet50_2` the state dict matches the authors' `Patch_Model(input_channel=3)` key for
# key, so their checkpoints load with `strict=True`. Building it without pretrained weights takes a
# few seconds; its keys and shapes are compared with the list taken from the authors' model
# (`tests/fixtures/swssl_state_dict_shapes.json`).

# %%
started = time.perf_counter()
wide = PatchModel(backbone="wide_resnet50_2", pretrained=False)
built_in = time.perf_counter() - started
n_params = sum(p.numel() for p in wide.parameters())
reference = json.loads((FIXTURES / "swssl_state_dict_shapes.json").read_text())["Patch_Model(input_channel=3)"]
ours = {key: list(value.shape) for key, value in wide.state_dict().items()}
print(f"wide_resnet50_2 patch model: {n_params:,} parameters, width {wide.width} (built in {built_in:.1f} s)")
print("keys and shapes equal the authors':", ours == reference, f"({len(ours)} entries)")
assert ours == reference, "the prose says the authors' checkpoints load with strict=True"
for key in [*list(ours)[:2], "projector.0.weight", "projector.1.running_mean", "projector.3.weight"]:
    print(f"  {key:<28} {ours[key]}")

# %%
if not SMOKE:  # one forward pass of the wide model on a CPU takes a few seconds
    with torch.no_grad():
        print(trace_shapes(wide.eval(), torch.zeros(2, 3, PAPER.patch_size, PAPER.patch_size), max_depth=1))
del wide

# %% [markdown]
# Notebook 07's training step again, now drawn from this notebook's resnet18 `model`: the boxes are the
# same and only the widths change, because the diagram reads them from the model.

# %%
from swssl_lib import TrainConfig, WindowGrid
from swssl_lib.diagrams import training_step_diagram

authors = TrainConfig()  # the authors' image size, patch and step
show(training_step_diagram(model, WindowGrid(*authors.image_size, authors.patch_size, authors.step_size)),
     "training_step")

# %% [markdown]
# ## 3. The twin loss, term by term
#
# One training step feeds three batches through the model: view 1, view 2 (the inverted patch) and
# the neighbour, giving projections $f_1, f_2, f_n$ of shape $(B, D)$, plus the neighbours' target
# similarities $t$ of shape $(B,)$ (notebook 07). The authors' loss has three parts.
#
# **1. Redundancy reduction (Barlow-Twins style).** Z-score every feature dimension over the batch,
#
# $$z = \frac{f - \operatorname{mean}_0 f}{\operatorname{std}_0 f} \quad(\text{unbiased std}),$$
#
# correlate the two views dimension by dimension, and ask for the identity:
#
# $$C = \frac{z_1^\top z_2}{B} \in \mathbb{R}^{D \times D}, \qquad
# L_{\text{corr}} = \sum_i (C_{ii} - 1)^2 + 10^{-6} \sum_{i \ne j} C_{ij}^2 .$$
#
# $C_{ii}$ is the correlation, across the batch, of feature $i$ in view 1 with feature $i$ in view 2:
# 1 means that feature is invariant to the augmentations and inversion. The off-diagonal part asks
# different features to carry different information, with a very small weight.
#
# **2. Pair term.** With $\cos_k$ the cosine between rows $k$ of two feature sets and $\sigma$ the sigmoid,
#
# $$L_{\text{pair}} = \sum_k \left| \sigma(\cos(f_{1k}, f_{2k})) - 1 \right| .$$
#
# **3. Neighbour term.**
#
# $$L_{\text{neigh}} = \sum_k \left| \sigma(\cos(f_{1k}, f_{nk})) - t_k \right| .$$
#
# The total is $L = L_{\text{corr}} + L_{\text{pair}} + L_{\text{neigh}}$. We compute each part on
# the small batch the authors' code was run on (its shape is printed below), and compare.

# %%
twin = torch.load(FIXTURES / "swssl_small.pt", weights_only=True)["twin"]
f1, f2, f_neg, target = twin["f_patch1"], twin["f_patch2"], twin["f_neg"], twin["target"]
B, D = f1.shape
print(f"f1, f2, f_neg: {tuple(f1.shape)} (batch B={B}, dim D={D}); target {tuple(target.shape)}:",
      [round(t, 3) for t in target.tolist()])

# %%
# 1. redundancy reduction
z1 = (f1 - f1.mean(0)) / f1.std(0)  # (B, D): each column mean 0, std 1
z2 = (f2 - f2.mean(0)) / f2.std(0)  # (B, D)
C = z1.T @ z2 / B  # (D, D): feature i of view 1 against feature j of view 2
on_diagonal = (C.diagonal() - 1).pow(2).sum()
off_diagonal = C.pow(2).sum() - C.diagonal().pow(2).sum()
corr_term = on_diagonal + 1e-6 * off_diagonal

# 2. and 3. cosines of matching rows, squashed by the sigmoid
n1, n2, n_neg = (F.normalize(f, dim=-1) for f in (f1, f2, f_neg))  # (B, D), rows of length 1
cos_pair = (n1 * n2).sum(-1)  # (B,)
cos_neighbour = (n1 * n_neg).sum(-1)  # (B,)
pair_term = (torch.sigmoid(cos_pair) - 1).abs().sum()
neighbour_term = (torch.sigmoid(cos_neighbour) - target).abs().sum()

by_hand = corr_term + pair_term + neighbour_term
library = twin_loss(f1, f2, f_neg=f_neg, target=target, variant="paper")
print(f"Σ (C_ii − 1)²          {on_diagonal:10.5f}")
print(f"1e-6 · Σ_(i≠j) C_ij²   {1e-6 * off_diagonal:10.5f}")
print(f"pair term              {pair_term:10.5f}")
print(f"neighbour term         {neighbour_term:10.5f}")
print(f"total by hand          {by_hand:10.5f}")
print(f"twin_loss(paper)       {library:10.5f}")
print(f"the authors' code      {twin['paper_loss_with_neg']:10.5f}")
assert torch.allclose(by_hand, library, atol=1e-5) and torch.allclose(library, twin["paper_loss_with_neg"], atol=1e-5)

# %% [markdown]
# Without a neighbour (`f_neg=None`) only $L_{\text{corr}}$ remains; that too matches the authors:

# %%
print(f"twin_loss(paper, no neighbour) {twin_loss(f1, f2):.5f} | by hand {corr_term:.5f} "
      f"| the authors' code {twin['paper_loss']:.5f}")

# %% [markdown]
# ## 4. The other variant: the course notebook's twin loss
#
# The course notebook on SWSSL that this kit was specified from (a student project,
# `github.com/carlosspino/SWSSL`, not the authors' code) writes the first part differently. It
# L2-normalises each **row** and compares *patches* with *patches*:
#
# $$n = \frac{f}{\lVert f \rVert}, \qquad S = \frac{n_1 n_2^\top}{B} \in \mathbb{R}^{B \times B}, \qquad
# L_{\text{nb}} = \sum_k (S_{kk} - 1)^2 + 10^{-6} \sum_{k \ne l} S_{kl}^2 ,$$
#
# plus the same pair and neighbour terms. `twin_loss(..., variant="notebook")` gives it. The same
# fixture stores the value of the course notebook's code for this variant (not the authors' code,
# which never computes it), and the library matches that too.

# %%
S = n1 @ n2.T / B  # (B, B): patch k of view 1 against patch l of view 2
nb_first = (S.diagonal() - 1).pow(2).sum() + 1e-6 * (S.pow(2).sum() - S.diagonal().pow(2).sum())
nb_total = nb_first + pair_term + neighbour_term
print(f"notebook variant by hand {nb_total:.5f} | twin_loss(notebook) "
      f"{twin_loss(f1, f2, f_neg, target, variant='notebook'):.5f} "
      f"| the course notebook's code {twin['notebook_loss_with_neg']:.5f}")
print(f"without neighbour: by hand {nb_first:.5f} | library {twin_loss(f1, f2, variant='notebook'):.5f} "
      f"| the course notebook's code {twin['notebook_loss']:.5f}")

# %% [markdown]
# The two matrices side by side. In the paper's $C$ (left) the diagonal entry $i$ is a *feature's*
# correlation between the views, over the batch. In the notebook's $S$ (right) the diagonal entry $k$
# is a *patch's* cosine between its views, divided by $B$. Both use the same colour scale, and $S$
# is nearly white: its entries can never leave $[-1/B, 1/B]$.

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.8), gridspec_kw={"width_ratios": [1.5, 1]},
                                  layout="constrained")
im = left.imshow(C, cmap="RdBu_r", vmin=-1, vmax=1)
left.set_title(f"paper: C = z₁ᵀz₂ / B\n{D}×{D}, features × features")
left.set_xlabel("feature j of view 2")
left.set_ylabel("feature i of view 1")
fig.colorbar(im, ax=left, shrink=0.8)
im = right.imshow(S, cmap="RdBu_r", vmin=-1, vmax=1)
right.set_title(f"notebook: S = n₁n₂ᵀ / B\n{B}×{B}, patches × patches")
right.set_xlabel("patch l of view 2")
right.set_ylabel("patch k of view 1")
for k in range(B):
    right.text(k, k, f"{S[k, k]:.2f}", ha="center", va="center", fontsize=9)
fig.colorbar(im, ax=right, shrink=0.8)
show(fig, "C_vs_S")

# %% [markdown]
# ## 5. Why the notebook variant cannot do its job
#
# A cosine is at most 1, so $S_{kk} = \cos(f_{1k}, f_{2k}) / B \le 1/B$. The target 1 is out of
# reach: even two identical views leave
#
# $$L_{\text{nb}} \ge B \left(1 - \tfrac{1}{B}\right)^2 = \frac{(B-1)^2}{B} \approx B - 2 .$$
#
# The consequences:
#
# - The loss is dominated by a constant. Between "views agree perfectly" ($\cos = 1$) and "views
#   unrelated" ($\cos = 0$) it moves from $(B-1)^2/B$ to $B$: by $2 - 1/B$, about 2, out of about $B$.
# - Its gradient on each cosine is $-2(1 - \cos/B)/B \approx -2/B$, almost constant: the term only
#   says "increase every positive cosine a little", which the pair term already says.
# - Nothing pushes *different* patches apart: the off-diagonal weight is $10^{-6}$ and the entries are
#   divided by $B$ again. **Collapse**, every patch mapped to the same vector, makes every cosine 1 and
#   is therefore a perfect solution.
#
# The paper's variant behaves differently. Z-scoring over the batch means a feature has to *vary*
# across patches before it can correlate, and $C_{ii} = 1$ asks each feature to vary in the same way
# for both views. A collapsed batch has zero variance: its z-scores are 0/0, and with a hint of noise
# they become uncorrelated noise, so $C_{ii} \approx 0$ and the loss is about $D$, the worst value.
# (A detail: with the unbiased std, $C_{ii}$ can reach $(B-1)/B$ at most, so the paper's floor is
# $D/B^2$: negligible, as the cell below prints.)
#
# Let us check all of this with random features at the authors' batch size and the resnet18 width.

# %%
torch.manual_seed(0)
B_big, D_big = PAPER.batch_size, model.width  # the authors' batch, resnet18's width
base = torch.randn(B_big, D_big)
cases = {
    "views agree (f2 = f1 + 1% noise)": (base, base + 0.01 * torch.randn(B_big, D_big)),
    "views unrelated": (base, torch.randn(B_big, D_big)),
    "collapsed (one vector for all + 1e-4 noise)": (
        base[:1].expand(B_big, -1) + 1e-4 * torch.randn(B_big, D_big),
        base[:1].expand(B_big, -1) + 1e-4 * torch.randn(B_big, D_big),
    ),
}
print(f"{f'B = {B_big}, D = {D_big}':<46}{'paper':>10}{'notebook':>10}")
for name, (a, b) in cases.items():
    print(f"{name:<46}{twin_loss(a, b):10.2f}{twin_loss(a, b, variant='notebook'):10.2f}")
print(f"{'floors: paper D/B², notebook (B−1)²/B':<46}{D_big / B_big**2:10.4f}{(B_big - 1) ** 2 / B_big:10.2f}")

# %% [markdown]
# The paper variant separates the three cases (about 0, about $D$, about $D$: agreement is rewarded
# and collapse is punished like unrelated views). The notebook variant rates *collapse as good as agreement* and
# barely distinguishes either from unrelated views. The pair term has the same blind spot. In the
# notebook variant only the neighbour term, whose targets are below 1, gives any reason not to
# collapse.
#
# ## 6. The neighbour term through the sigmoid
#
# Cosines live in $[-1, 1]$, so $\sigma(\cos)$ lives in $[\sigma(-1), \sigma(1)] = [0.269, 0.731]$.
# Two things follow:
#
# - The pair term can never reach 0: each pair contributes at least $1 - 0.731 = 0.269$.
# - A neighbour target $t$ is met exactly when $\cos = \operatorname{logit}(t) = \ln\frac{t}{1-t}$.
#   A target of 0.5 (one step diagonally, or three steps along an axis) asks for **orthogonal**
#   projections, $\cos = 0$; targets outside $[\sigma(-1), \sigma(1)]$ cannot be met and just push the
#   cosine to $+1$ or $-1$. Which of notebook 07's targets are which is printed below.

# %%
targets = np.array(sorted(set(round(t, 3) for t in similarity_table().values()), reverse=True))  # notebook 07's table
low, high = torch.sigmoid(torch.tensor(-1.0)).item(), torch.sigmoid(torch.tensor(1.0)).item()
print("targets the sigmoid can meet:", [float(t) for t in targets if low <= t <= high],
      "| cannot meet:", [float(t) for t in targets if not low <= t <= high])
cos = np.linspace(-1, 1, 201)
fig, ax = plt.subplots(figsize=(8, 4.5))
ax.plot(cos, 1 / (1 + np.exp(-cos)), color="k", lw=2, label="σ(cos)")
ax.axhspan(low, high, color="tab:green", alpha=0.1, label=f"reachable: [{low:.3f}, {high:.3f}]")
for t in targets:
    reachable = low <= t <= high
    ax.axhline(t, color="tab:blue" if reachable else "tab:red", lw=1, ls="-" if reachable else "--")
    if reachable:
        needed = np.log(t / (1 - t))
        ax.plot(needed, t, "o", color="tab:blue")
        label = f"t={t:.3f} → cos {needed:+.2f}"
        if needed < 0.3:  # below-right of the point, where the rising curve is not
            ax.text(needed + 0.04, t - 0.012, label, fontsize=9, color="tab:blue", va="top")
        else:  # above-left, so the label stays inside the axes
            ax.text(needed - 0.04, t + 0.012, label, fontsize=9, color="tab:blue", va="bottom", ha="right")
    else:  # on the side of the plot where the curve is far from the line
        ax.text(-0.98 if t > high else 0.3, t + 0.012, f"t={t:.3f}: unreachable", fontsize=9, color="tab:red")
ax.set_xlabel("cosine between the projections of patch and neighbour")
ax.set_ylabel("σ(cos) and the targets t")
ax.set_ylim(-0.03, 0.85)
ax.set_title("which neighbour targets the sigmoid can meet")
ax.legend(loc="lower left", fontsize=9)  # the lower right holds the unreachable labels
fig.tight_layout()
show(fig, "sigmoid_targets")

# %% [markdown]
# ## 7. On real projections
#
# Finally, the loss on real training items: a batch of patch triples drawn from chest phantoms (see
# notebook 07) through the untrained resnet18 model in training mode, as the trainer does it.

# %%
from torch.utils.data import DataLoader

from anomaly_lib.phantoms import draw_chest
from swssl_lib import ImageSet, SWSSLDataset
from swssl_lib.loss import neighbour_terms

size, patch, step = (256, 64, 32) if SMOKE else (512, 128, 32)
n_images = 8 if SMOKE else 32
pixels = torch.stack([torch.from_numpy(draw_chest(np.random.default_rng(i), size, abnormal=False).image)
                      for i in range(n_images)])  # (n_images, size, size) uint8
phantoms = ImageSet(paths=[Path(f"phantom_{i}.png") for i in range(n_images)], labels=[0] * n_images,
                    size=(size, size), pixels=pixels)
items = SWSSLDataset(phantoms, patch=True, patch_size=patch, step_size=step, category="chest")
view1, view2, neighbour, similarity = next(iter(DataLoader(items, batch_size=n_images, shuffle=True)))
print("batch:", tuple(view1.shape), tuple(view2.shape), tuple(neighbour.shape), tuple(similarity.shape))

model.train()  # the projector's BatchNorm uses batch statistics, as in training
with torch.no_grad():
    p1, pn, p2 = model(view1)[0], model(neighbour)[0], model(view2)[0]  # each (B, 512)
    paper_corr = twin_loss(p1, p2)
    notebook_first = twin_loss(p1, p2, variant="notebook")
    shared = neighbour_terms(p1, p2, pn, similarity)
print(f"untrained model, B = {n_images}, D = {p1.shape[1]}:")
print(f"  paper variant:    L_corr {paper_corr:8.2f}  + pair & neighbour {shared:6.2f}  = "
      f"{twin_loss(p1, p2, pn, similarity):8.2f}")
print(f"  notebook variant: L_nb   {notebook_first:8.2f}  + pair & neighbour {shared:6.2f}  = "
      f"{twin_loss(p1, p2, pn, similarity, variant='notebook'):8.2f}   (floor of L_nb: {(n_images - 1) ** 2 / n_images:.2f})")

# %% [markdown]
# The untrained model's two views are barely correlated feature by feature, so the paper's
# $L_{\text{corr}}$ is of the order of $D$ (each uncorrelated feature adds about 1; with a batch
# this small the estimates are noisy and add more); training drives it down (notebook 09). The
# notebook variant's first part can only move between its floor $(B-1)^2/B$ and about $B$, a band
# about 2 wide, whatever the network does.
#
# ## Summary
# - The patch model is a ResNet body, average pooling and a bias-free projector as wide as the body;
#   training uses the **projection**, scoring the **embedding**.
# - The paper's loss correlates *features* across the batch ($D \times D$) and asks each to be
#   invariant to the views; collapse cannot satisfy it.
# - The course notebook's variant compares *patches* ($B \times B$) but divides by $B$, so its
#   diagonal never exceeds $1/B$, the loss floor is $(B-1)^2/B$, and collapse counts as a perfect
#   answer.
# - Both add the same pair and neighbour terms, read through a sigmoid whose outputs stay in
#   $[\sigma(-1), \sigma(1)] \approx [0.27, 0.73]$, so some neighbour targets cannot be met.
#
# **Next:** notebook 09 trains the model and scores sliding windows with the *embeddings*.

# %% [markdown]
# ## 8. Exercises
#
# ### Exercise 1 · Shapes for a smaller patch and a bigger backbone
#
# Predict, then run: a batch of four 64×64 patches goes through the resnet18 patch model. What is the
# shape after `layer4`, of the embedding and of the projection? And how wide are the embedding and
# the projector of a `resnet50` patch model? Write your four answers down first.

# %% cellView="form" jupyter={"source_hidden": true} tags=["solution"]
# @title Solution to exercise 1 (run it: the answer stays folded until you open it)
run_solution("08", 1)

# %% [markdown]
# ### Exercise 2 · Why the paper variant needs a batch of at least two
#
# The paper variant z-scores every feature *over the batch*. Predict what $z$ is for a batch of one
# patch (the std is the unbiased one), and which values a diagonal entry $C_{ii}$ can take for a batch
# of two. What does that mean for the smallest loss a batch of two can reach? Then run.

# %% cellView="form" jupyter={"source_hidden": true} tags=["solution"]
# @title Solution to exercise 2 (run it: the answer stays folded until you open it)
run_solution("08", 2)

# %% [markdown]
# ### Exercise 3 · The notebook variant's floor
#
# Take a batch of $B = 32$ random projections and use them as *both* views, so every patch agrees
# perfectly with itself. Predict `twin_loss(f, f, variant="notebook")` and
# `twin_loss(f, f, variant="paper")` for $D = 16$ features before running.

# %% cellView="form" jupyter={"source_hidden": true} tags=["solution"]
# @title Solution to exercise 3 (run it: the answer stays folded until you open it)
run_solution("08", 3)

# %% [markdown]
# ### Exercise 4 · Is the off-diagonal term doing anything?
#
# The paper variant weighs the off-diagonal entries of $C$ by $10^{-6}$; Barlow Twins (Zbontar et al.,
# 2021) uses about $5 \cdot 10^{-3}$. For *unrelated* random views at the authors' batch size and the
# resnet18 width, estimate the diagonal part and the weighted off-diagonal part of the loss (hint:
# each $C_{ij}$ with $i \ne j$ has a variance of about $1/B$). Then check with `twin_loss` and its
# `off_diagonal_weight` argument, and explain what the term can and cannot do at this weight.

# %% cellView="form" jupyter={"source_hidden": true} tags=["solution"]
# @title Solution to exercise 4 (run it: the answer stays folded until you open it)
run_solution("08", 4)
