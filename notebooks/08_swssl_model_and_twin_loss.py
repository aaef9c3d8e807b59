# %% [markdown]
# # 08 · SWSSL: the patch model and the twin loss
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/anomaly-course-kit/anomaly-course-kit/blob/main/notebooks/08_swssl_model_and_twin_loss.ipynb)
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
import json
import time
from functools import partial
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from anomaly_lib.figures import show_figure
from anomaly_lib.shapes import trace_shapes
from swssl_lib import PatchModel, build_resnet, twin_loss

OUT = Path("outputs") / "08_swssl_model_and_twin_loss"
OUT.mkdir(parents=True, exist_ok=True)
FIXTURES = Path("..") / "tests" / "fixtures"  # numbers produced by the authors' own code
plt.rcParams.update({"font.size": 11, "figure.dpi": 90})

show = partial(show_figure, folder=OUT)  # show(fig, name): save OUT/name.png and display it

# %% [markdown]
# ## The patch model
#
# SWSSL's network is deliberately plain: an ImageNet ResNet without its last two children (the
# average pooling and the classifier), then global average pooling, then a small **projector**:
#
# $$\text{Linear}(w, w) \rightarrow \text{BatchNorm1d}(w) \rightarrow \text{ReLU} \rightarrow \text{Linear}(w, w), \qquad \text{no biases},$$
#
# where $w$ is the backbone's feature width (2048 for the authors' `wide_resnet50_2`, 512 for the
# `resnet18` we use on CPUs). `forward` returns two things:
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
# A shape table, recorded by forward hooks while four 128×128 patches go through a randomly
# initialised `resnet18` patch model (`pretrained=False`, so nothing is downloaded):

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
model = PatchModel(backbone="resnet18", pretrained=False).eval()
patches = torch.zeros(4, 3, 128, 128)  # (N, 3, patch, patch): grey repeated to RGB
print(trace_shapes(model, patches, max_depth=2))

# %% [markdown]
# Reading the table:
#
# - The body divides the side by 32: a 128×128 patch leaves `layer4` as a 4×4 map of 512 channels.
#   A 64×64 patch would give 2×2, a 32×32 patch 1×1; pooling makes every patch size end in one
#   vector.
# - The projector keeps the width (512 → 512 → 512). Its first `BatchNorm1d` normalises over the
#   batch, so in training mode the model needs at least two patches per batch.
# - The model's own row shows its two outputs, `[projection, embedding]`.
#
# ## Embedding or projection?
#
# **Training uses the projection**: the twin loss compares $p$ of the two views and of the
# neighbour. **Scoring uses the embedding**: after training, every sliding window is described by
# its pooled backbone feature $e$, and the projector is thrown away (`swssl_lib.sliding` calls
# `model.embed`). This is the usual self-supervised habit (SimCLR, Barlow Twins): the projector
# absorbs what is specific to the training objective, and the layer before it transfers better.

# %%
x = torch.rand(4, 3, 128, 128)
with torch.no_grad():
    projection, embedding = model(x)  # (4, 512), (4, 512)
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
for key in [*list(ours)[:2], "projector.0.weight", "projector.1.running_mean", "projector.3.weight"]:
    print(f"  {key:<28} {ours[key]}")

# %%
if not SMOKE:  # one forward pass of the 75M-parameter model on CPU takes a few seconds
    with torch.no_grad():
        print(trace_shapes(wide.eval(), torch.zeros(2, 3, 128, 128), max_depth=1))
del wide

# %% [markdown]
# ## The twin loss, term by term
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
# the small batch the authors' code was run on, $B = 6$ rows of $D = 16$ features, and compare.

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
# ## The other variant: the course notebook's twin loss
#
# The course notebook this kit was specified from (`shared/seeds/swssl_course_notebook.md`) writes the
# first part differently. It L2-normalises each **row** and compares *patches* with *patches*:
#
# $$n = \frac{f}{\lVert f \rVert}, \qquad S = \frac{n_1 n_2^\top}{B} \in \mathbb{R}^{B \times B}, \qquad
# L_{\text{nb}} = \sum_k (S_{kk} - 1)^2 + 10^{-6} \sum_{k \ne l} S_{kl}^2 ,$$
#
# plus the same pair and neighbour terms. `twin_loss(..., variant="notebook")` gives it; it matches
# the authors' numbers for that code path too.

# %%
S = n1 @ n2.T / B  # (B, B): patch k of view 1 against patch l of view 2
nb_first = (S.diagonal() - 1).pow(2).sum() + 1e-6 * (S.pow(2).sum() - S.diagonal().pow(2).sum())
nb_total = nb_first + pair_term + neighbour_term
print(f"notebook variant by hand {nb_total:.5f} | twin_loss(notebook) "
      f"{twin_loss(f1, f2, f_neg, target, variant='notebook'):.5f} | the authors' code {twin['notebook_loss_with_neg']:.5f}")
print(f"without neighbour: by hand {nb_first:.5f} | library {twin_loss(f1, f2, variant='notebook'):.5f} "
      f"| the authors' code {twin['notebook_loss']:.5f}")

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
# ## Why the notebook variant cannot do its job
#
# A cosine is at most 1, so $S_{kk} = \cos(f_{1k}, f_{2k}) / B \le 1/B$. The target 1 is out of
# reach: even two identical views leave
#
# $$L_{\text{nb}} \ge B \left(1 - \tfrac{1}{B}\right)^2 = \frac{(B-1)^2}{B} \approx 298 \text{ for the authors' } B = 300 .$$
#
# The consequences:
#
# - The loss is dominated by a constant. Between "views agree perfectly" ($\cos = 1$) and "views
#   unrelated" ($\cos = 0$) it moves from $(B-1)^2/B$ to $B$: by about 2 out of 300.
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
# $D/B^2$, about 0.006 for $D = 512$, $B = 300$: negligible.)
#
# Let us check all of this with random features at the authors' batch size, $B = 300$, and the
# resnet18 width, $D = 512$.

# %%
torch.manual_seed(0)
B_big, D_big = 300, 512
base = torch.randn(B_big, D_big)
cases = {
    "views agree (f2 = f1 + 1% noise)": (base, base + 0.01 * torch.randn(B_big, D_big)),
    "views unrelated": (base, torch.randn(B_big, D_big)),
    "collapsed (one vector for all + 1e-4 noise)": (
        base[:1].expand(B_big, -1) + 1e-4 * torch.randn(B_big, D_big),
        base[:1].expand(B_big, -1) + 1e-4 * torch.randn(B_big, D_big),
    ),
}
print(f"{'B = 300, D = 512':<46}{'paper':>10}{'notebook':>10}")
for name, (a, b) in cases.items():
    print(f"{name:<46}{twin_loss(a, b):10.2f}{twin_loss(a, b, variant='notebook'):10.2f}")
print(f"{'floor of the notebook variant (B−1)²/B':<46}{'':>10}{(B_big - 1) ** 2 / B_big:10.2f}")

# %% [markdown]
# The paper variant separates the three cases (≈0, ≈D, ≈D: agreement is rewarded and collapse is
# punished like unrelated views). The notebook variant rates *collapse as good as agreement* and
# barely distinguishes either from unrelated views. The pair term has the same blind spot. In the
# notebook variant only the neighbour term, whose targets are below 1, gives any reason not to
# collapse.
#
# ## The neighbour term through the sigmoid
#
# Cosines live in $[-1, 1]$, so $\sigma(\cos)$ lives in $[\sigma(-1), \sigma(1)] = [0.269, 0.731]$.
# Two things follow:
#
# - The pair term can never reach 0: each pair contributes at least $1 - 0.731 = 0.269$.
# - A neighbour target $t$ is met exactly when $\cos = \operatorname{logit}(t) = \ln\frac{t}{1-t}$.
#   A target of 0.5 (one step diagonally, or three steps along an axis) asks for **orthogonal**
#   projections, $\cos = 0$; targets above 0.731 (0.75, a direct neighbour) or below 0.269
#   (0.25, 0.167, 0) cannot be met and just push the cosine to $+1$ or $-1$.

# %%
targets = np.array([0.75, 0.667, 0.5, 0.417, 0.333, 0.25, 0.167, 0.0])
low, high = torch.sigmoid(torch.tensor(-1.0)).item(), torch.sigmoid(torch.tensor(1.0)).item()
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
        ax.text(needed + 0.04, t - 0.012, f"t={t:.3f} → cos {needed:+.2f}", fontsize=9, color="tab:blue",
                va="top")  # below-right of the point, where the rising curve is not
    else:
        ax.text(-0.98, t + 0.012, f"t={t:.3f}: unreachable", fontsize=9, color="tab:red")
ax.set_xlabel("cosine between the projections of patch and neighbour")
ax.set_ylabel("σ(cos) and the targets t")
ax.set_ylim(-0.03, 0.85)
ax.set_title("which neighbour targets the sigmoid can meet")
ax.legend(loc="lower right", fontsize=9)
fig.tight_layout()
show(fig, "sigmoid_targets")

# %% [markdown]
# ## On real projections
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
# The untrained model's feature correlations are far from 1, so the paper's $L_{\text{corr}}$ is in
# the hundreds (of at most about $D$ = 512 per unit of disagreement); training drives it down
# (notebook 09). The notebook variant's first part can only move between its floor $(B-1)^2/B$ and
# about $B$, a band about 2 wide, whatever the network does.
#
# **Summary for an interview.** The paper's loss correlates *features* across the batch (D×D) and asks
# each to be invariant; it cannot be satisfied by collapse. The notebook's variant compares *patches*
# (B×B) but divides by B, so its diagonal never exceeds 1/B, the loss floor is (B−1)²/B, and collapse
# counts as a perfect answer. Both add the same pair and neighbour terms, read through a sigmoid
# whose outputs stay in [0.27, 0.73].
#
# **Next:** notebook 09 trains the model and scores sliding windows with the *embeddings*.
