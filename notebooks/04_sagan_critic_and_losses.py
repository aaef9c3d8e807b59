# %% [markdown]
# # 04 · SAGAN's critic and losses
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/anomaly-course-kit/anomaly-course-kit/blob/main/notebooks/04_sagan_critic_and_losses.ipynb) [![Read it rendered](https://img.shields.io/badge/read-rendered-2ea44f)](https://anomaly-course-kit.github.io/anomaly-course-kit/04_sagan_critic_and_losses.html)
#
# **Learning goals**
# - Trace SAGAN's critic layer by layer and say why its output is an unbounded score, not a
#   probability.
# - Compute the WGAN-GP gradient penalty step by step (interpolate, differentiate, take norms,
#   penalise) and match `sagan_lib.losses.gradient_penalty`.
# - Write the critic loss and the generator's three losses as formulas, and evaluate each on a
#   phantom batch next to `critic_loss` and `generator_loss`.
# - Know the update order (a critic step every iteration, a generator step every `n_critic`-th)
#   and what the kit's training loop does differently from the authors' loop, without changing
#   the maths.

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
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from anomaly_lib.figures import show_figure
from sagan_lib.config import SaganConfig

AUTHORS = SaganConfig()  # the authors' settings: loss weights, n_critic, optimiser
OUT = Path("outputs") / "04_sagan_critic_and_losses"
OUT.mkdir(parents=True, exist_ok=True)



def shape(t):
    return tuple(t.shape)


# %% [markdown]
# ## 1. One training batch
#
# Every SAGAN iteration draws three aligned batches of $B$ images (notebook 01):
#
# | symbol | what | used by |
# |---|---|---|
# | $x_A$ | unlabeled images (a mix of normal and abnormal) | the critic's "fake" side, adversarial loss |
# | $x_B$ | labeled normals | the critic's "real" side, identity loss, MSE target |
# | $x_B'$ | $x_B$ with a synthetic anomaly pasted in | anomaly-removal loss |
#
# `MedADTrainSet.batch` returns the three (plus the anomaly masks), each `(B, 1, 64, 64)` in
# $[-1, 1]$. We take items 0 to $B - 1$. The pool lists its abnormal images first (notebook 01), so
# the four unlabeled images here all happen to be abnormal; training draws its batches at random.

# %%
from anomaly_lib.phantoms import make_phantom_dataset
from sagan_lib.data import MedADTrainSet

counts = {"train_normal": 16, "unlabeled_normal": 7, "unlabeled_abnormal": 10, "test_normal": 1, "test_abnormal": 1}
DATA = make_phantom_dataset(OUT / "phantoms", "medad", image_size=64, counts=counts, seed=0)
train_set = MedADTrainSet(DATA, image_size=64, progress=False)

B = 4
torch.manual_seed(0)
unlabeled, normal, anomaly, mask = train_set.batch(torch.arange(B))  # each (4, 1, 64, 64)
print("x_A", shape(unlabeled), "| x_B", shape(normal), "| x_B'", shape(anomaly), "| mask", shape(mask))

fig, axes = plt.subplots(3, B, figsize=(2.2 * B, 7), layout="constrained")
for row, (name, batch) in enumerate([("x_A unlabeled", unlabeled), ("x_B normal", normal), ("x_B' anomaly", anomaly)]):
    for col in range(B):
        axes[row, col].imshow(batch[col, 0], cmap="gray", vmin=-1, vmax=1)
        if row == 2:
            axes[row, col].contour(mask[col, 0], levels=[0.5], colors="red", linewidths=0.8)
        axes[row, col].set_xticks([])
        axes[row, col].set_yticks([])
    axes[row, 0].set_ylabel(name)
fig.suptitle("one batch: unlabeled, normal, and normal + synthetic anomaly (red box)")
show_figure(fig, "batch", OUT)

# %% [markdown]
# ## 2. The critic, layer by layer
#
# `Discriminator()` at its defaults is the authors' critic: `d_repeat_num` 4×4 convolutions with
# stride 2, each halving the image and doubling the channels (from `conv_dim` up; the trace below
# shows every width), with LeakyReLU(0.01), then a 3×3 convolution to one channel. At the authors'
# image size the last feature map is 1×1, so the "patch" critic gives one score per image. It
# returns both the features `h` and the score.
#
# There is no normalisation layer. That is deliberate: the gradient penalty below treats each
# image on its own, and batch normalisation would make one image's score depend on the others.

# %%
# NBVAL_CHECK_OUTPUT
from anomaly_lib.shapes import trace_shapes
from sagan_lib import Discriminator

torch.manual_seed(0)
D_full = Discriminator()  # image_size=64, conv_dim=64, repeat_num=6
print(trace_shapes(D_full, normal[:1]))
print(f"\ncritic parameters: {sum(p.numel() for p in D_full.parameters()):,}")

# %% [markdown]
# The same critic as a picture, drawn from `D_full`: each box is one of the traced layers above, its
# height the spatial size.

# %%
from sagan_lib.diagrams import critic_diagram

show_figure(critic_diagram(D_full), "critic_diagram", OUT)

# %% [markdown]
# ## 3. Why a Wasserstein critic
#
# A classic GAN discriminator ends in a sigmoid and outputs $P(\text{real})$; once it separates
# real from fake well, the sigmoid saturates and the generator's gradient fades. A **Wasserstein
# critic** has no sigmoid: $D(x)$ is any real number, higher for images that look like the real
# (normal) ones. Training it to maximise
#
# $$\mathbb{E}[D(x_B)] - \mathbb{E}[D(G(x_A))]$$
#
# over functions whose slope is at most 1 (1-Lipschitz) estimates the Wasserstein-1 distance
# between the distribution of normals and the distribution of reconstructions. That distance keeps
# a useful gradient even when the two distributions barely overlap. The scores themselves have no
# scale or threshold: only differences between them mean something.
#
# From here on we use narrower networks of the same depth, untrained: the formulas don't depend on
# the width, and the full-size critic (its parameter count is printed above) is slow to
# differentiate twice on a CPU.

# %%
from sagan_lib import Generator, from_windows, to_windows

torch.manual_seed(0)
D = Discriminator(conv_dim=16)  # same 6 stride-2 layers, 16 → 512 channels
G = Generator(conv_dim=8, repeat_num=1)


def reconstruct(images):
    """Full images (B, 1, 64, 64) → G through the 2×2 windows → (B, 1, 64, 64)."""
    return from_windows(G(to_windows(images, 2)), 2)  # (B·4, 1, 32, 32) in between


fake = reconstruct(unlabeled)  # G(x_A): (4, 1, 64, 64)
h, real_score = D(normal)  # features (4, 512, 1, 1) at this width, scores (4, 1, 1, 1)
_, fake_score = D(fake.detach())
print("features", shape(h), "| scores", shape(real_score), "| any real number, no sigmoid")
print("D(x_B)   :", [f"{v:+.5f}" for v in real_score.flatten().tolist()])
print("D(G(x_A)):", [f"{v:+.5f}" for v in fake_score.flatten().tolist()])

# %% [markdown]
# Untrained, every score sits near 0 and the two sides can't be told apart. Training moves the
# scores wherever the loss pushes them, with no bound and no meaning for the absolute value;
# notebook 05's loss curves follow the gap $\mathbb{E}[D(x_B)] - \mathbb{E}[D(G(x_A))]$ instead.

# %% [markdown]
# ## 4. The gradient penalty, step by step
#
# The 1-Lipschitz condition is enforced softly (Gulrajani et al., WGAN-GP): the critic's gradient
# norm with respect to its input should be 1, checked at points between real and fake images.
#
# 1. For each image draw one $u \sim U(0, 1)$ and interpolate
#    $\hat{x} = u\,x_B + (1 - u)\,G(x_A)$; the fake is detached, since this step trains the critic.
# 2. Score $\hat{x}$ and take $g = \nabla_{\hat{x}} D(\hat{x})$ with autograd. Passing
#    `grad_outputs = ones` differentiates the *sum* of the scores; since image $i$'s score depends
#    only on image $i$, row $i$ of the result is exactly $\nabla D(\hat{x}_i)$.
#    `create_graph=True` keeps this gradient differentiable: the penalty is itself minimised with
#    respect to the critic's weights (a second-order backward pass).
# 3. Flatten each image's gradient and take its L2 norm $\lVert g_i \rVert_2$.
# 4. Penalise the distance to 1 and average over the batch:
#
# $$\mathrm{GP} = \frac{1}{B}\sum_{i=1}^{B} \big(\lVert \nabla_{\hat{x}} D(\hat{x}_i) \rVert_2 - 1\big)^2 .$$

# %%
from sagan_lib.losses import gradient_penalty

torch.manual_seed(1)
u = torch.rand(B, 1, 1, 1)  # step 1: one u per image, broadcast over (1, 64, 64)
x_hat = (u * normal + (1 - u) * fake.detach()).requires_grad_(True)  # (4, 1, 64, 64)
_, hat_score = D(x_hat)  # (4, 1, 1, 1)
(grad,) = torch.autograd.grad(hat_score, x_hat, grad_outputs=torch.ones_like(hat_score),
                              create_graph=True)  # step 2: (4, 1, 64, 64)
grad_norm = grad.reshape(B, -1).norm(2, dim=1)  # step 3: (4, 4096) → (4,)
gp_by_hand = ((grad_norm - 1) ** 2).mean()  # step 4: a scalar

print("u          :", [round(v, 3) for v in u.flatten().tolist()])
print("‖∇D(x̂_i)‖₂:", [f"{v:.2e}" for v in grad_norm.tolist()])
print(f"GP by hand : {gp_by_hand.item():.6f}")
print(f"library    : {gradient_penalty(hat_score, x_hat).item():.6f}")
print("equal:", torch.allclose(gp_by_hand, gradient_penalty(hat_score, x_hat)))

# %% [markdown]
# At initialisation the critic's gradients are far from norm 1 (printed above), so each image adds
# almost $(0 - 1)^2 = 1$ to the penalty; training pulls the norms towards 1 (notebook 05's loss
# curves show the penalty during a run). Below: the interpolated images (with their $u$) and the
# critic's gradient. The generator is untrained, so its reconstructions are grainy, and the smaller
# $u$, the grainier $\hat{x}$; the untrained critic's gradient is spread over the whole image.

# %%
fig, axes = plt.subplots(2, B, figsize=(2.4 * B, 5), layout="constrained")
for i in range(B):
    axes[0, i].imshow(x_hat[i, 0].detach(), cmap="gray", vmin=-1, vmax=1)
    axes[0, i].set_title(f"x̂ with u = {u[i].item():.2f}", fontsize=10)
    axes[1, i].imshow(grad[i, 0].detach().abs(), cmap="magma")
    axes[1, i].set_title(f"|∂D/∂x̂|, norm {grad_norm[i].item():.1e}", fontsize=10)
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle("the penalty is taken at interpolates between x_B and G(x_A)  (u = 1: the real normal)")
show_figure(fig, "gradient_penalty", OUT)

# %% [markdown]
# ## 5. The critic loss
#
# $$\mathcal{L}_D = \underbrace{-\,\mathbb{E}[D(x_B)]}_{\text{real}}
# \;+\; \underbrace{\mathbb{E}[D(G(x_A))]}_{\text{fake}}
# \;+\; \lambda_{gp}\,\underbrace{\mathrm{GP}}_{\text{penalty}} ,$$
#
# with the authors' weight $\lambda_{gp}$ (`SaganConfig().lambda_gp`, printed below).
# `critic_loss(D, x_B, G(x_A), lambda_gp)` draws its own $u$ with `torch.rand`, so seeding the
# generator before each computation makes the two agree exactly.

# %%
from sagan_lib.losses import critic_loss

lambda_gp = AUTHORS.lambda_gp
print(f"lambda_gp = {lambda_gp}")
torch.manual_seed(2)
d_total, d_parts = critic_loss(D, normal, fake, lambda_gp)

torch.manual_seed(2)
u = torch.rand(B, 1, 1, 1)
x_hat = (u * normal + (1 - u) * fake.detach()).requires_grad_(True)
by_hand = {
    "D/loss_real": -D(normal)[1].mean(),  # −E[D(x_B)]
    "D/loss_fake": D(fake.detach())[1].mean(),  # E[D(G(x_A))], no gradient into G
    "D/loss_gp": gradient_penalty(D(x_hat)[1], x_hat),  # GP (section 4)
}
by_hand_total = by_hand["D/loss_real"] + by_hand["D/loss_fake"] + lambda_gp * by_hand["D/loss_gp"]
for name, value in by_hand.items():
    print(f"{name:<12} by hand {value.item():>10.5f}   critic_loss {d_parts[name].item():>10.5f}")
print(f"{'L_D':<12} by hand {by_hand_total.item():>10.5f}   critic_loss {d_total.item():>10.5f}")

# %% [markdown]
# ## 6. The generator's three losses
#
# The generator is trained with one adversarial and two reconstruction terms. All three use
# whole, re-stitched images; the means run over every pixel of the batch.
#
# | term | formula | what it teaches |
# |---|---|---|
# | adversarial | $\mathcal{L}_{adv} = -\,\mathbb{E}[D(G(x_A))]$ | make reconstructions of *unlabeled* images look like normals to the critic |
# | identity | $\mathcal{L}_{id} = \operatorname{mean}\lvert x_B - G(x_B)\rvert$ | leave a normal image unchanged (L1) |
# | anomaly removal | $\mathcal{L}_{mse} = \operatorname{mean}\,(x_B - G(x_B'))^2$ | turn a synthetic anomaly back into the clean normal (MSE) |
#
# $$\mathcal{L}_G = \mathcal{L}_{adv} + \lambda_{id}\,\mathcal{L}_{id} + \mathcal{L}_{mse} ,$$
#
# with the authors' $\lambda_{id}$ (`SaganConfig().lambda_id`, printed below).
#
# Only the identity and MSE terms know what the output *should* be; the adversarial term is what
# uses the unlabeled pool, which contains real lesions: reconstructions of those must still look
# normal. At test time, a generator trained this way leaves normal anatomy alone and paints over
# what doesn't fit, and the difference is the anomaly map (notebook 06).

# %%
from sagan_lib.losses import generator_loss

lambda_id = AUTHORS.lambda_id
print(f"lambda_id = {lambda_id}")
fake = reconstruct(unlabeled)  # G(x_A), with gradients this time
normal_rec = reconstruct(normal)  # G(x_B)
anomaly_rec = reconstruct(anomaly)  # G(x_B')
D.requires_grad_(False)  # the generator step doesn't update the critic
_, fake_score = D(fake)  # gradients flow *through* D into G

g_total, g_parts = generator_loss(fake_score, normal, normal_rec, anomaly_rec, lambda_id)
by_hand = {
    "G/loss_fake": -fake_score.mean(),  # L_adv = −E[D(G(x_A))]
    "G/loss_id": (normal - normal_rec).abs().mean(),  # L_id = mean |x_B − G(x_B)|
    "G/loss_mse": ((normal - anomaly_rec) ** 2).mean(),  # L_mse = mean (x_B − G(x_B'))²
}
by_hand_total = by_hand["G/loss_fake"] + lambda_id * by_hand["G/loss_id"] + by_hand["G/loss_mse"]
for name, value in by_hand.items():
    print(f"{name:<12} by hand {value.item():>10.5f}   generator_loss {g_parts[name].item():>10.5f}")
print(f"{'L_G':<12} by hand {by_hand_total.item():>10.5f}   generator_loss {g_total.item():>10.5f}")

g_total.backward()
D.requires_grad_(True)
print("\ngradients after L_G.backward(): generator",
      all(p.grad is not None for p in G.parameters()), "| critic", any(p.grad is not None for p in D.parameters()))

# %% [markdown]
# ## 7. The update order
#
# One iteration $i$ (counting from 0) of the kit's trainer. Its algorithm is one short function,
# `sagan_step` in `sagan_lib/step.py`, with these formulas in its docstring; the trainer tells it
# whether this iteration is the generator's turn and supplies the windows, mixed precision and DDP.
#
# 1. **critic step, every iteration**: $\mathcal{L}_D$ with the fakes detached, one Adam step on $D$;
# 2. **generator step, when $(i + 1) \bmod n_{critic} = 0$**: $\mathcal{L}_G$ with $D$ frozen, one
#    Adam step on $G$. The critic thus takes $n_{critic}$ steps per generator step, so it stays
#    ahead and gives the generator a useful signal.
#
# Both optimisers are Adam; the authors' learning rates, betas and decay are printed below. The
# rate decays over the last `num_iters_decay` iterations. The cell then watches the order happen,
# twice: `sagan_step` alone, with a stand-in engine that records which network each update trains
# (`sagan_lib/step_recorder.py`), and four real iterations of the kit's trainer at a tiny size,
# whose history has one entry per iteration with the losses of the steps it took.

# %%
from sagan_lib.config import SaganConfig
from sagan_lib.step import sagan_step
from sagan_lib.step_recorder import RecordingEngine
from sagan_lib.train import SaganTrainer

print(f"the authors: n_critic = {AUTHORS.n_critic}, Adam with g_lr = {AUTHORS.g_lr}, d_lr = {AUTHORS.d_lr}, "
      f"betas = ({AUTHORS.beta1}, {AUTHORS.beta2}), decay over the last {AUTHORS.num_iters_decay:,} "
      f"of {AUTHORS.num_iters:,} iterations")

# the algorithm alone: sagan_step with a stand-in engine that writes down every update
recorder = RecordingEngine(AUTHORS)
for i in range(4):
    done = len(recorder.updates)
    step_losses = sagan_step(recorder, unlabeled, normal, anomaly, generator_turn=(i + 1) % AUTHORS.n_critic == 0)
    print(f"sagan_step, iteration {i}: updates {' + '.join(recorder.updates[done:])}")
assert recorder.updates.count("critic") == 4, recorder.updates
assert all(recorder.critic_frozen_during_generator_update), "the critic must be frozen while G steps"

# the kit's trainer at a tiny size: four real iterations, one history entry each (log_step=1)
config = SaganConfig(data_root=str(DATA), g_conv_dim=8, d_conv_dim=8, g_repeat_num=1, batch_size=2, log_step=1,
                     model_save_dir=str(OUT / "models"), sample_dir=str(OUT / "samples"))
print(f"this tiny trainer: n_critic = {config.n_critic}")
trainer = SaganTrainer(config, train_set, log=lambda *_: None)
history = trainer.train(num_iters=4, progress=False, overwrite=True)
for entry in history:
    steps = "critic + generator" if "G/loss" in entry else "critic only"
    print(f"trainer, iteration {entry['iteration'] - 1}: {steps:<18}  L_D = {entry['D/loss']:9.3f}"
          + (f"   L_G = {entry['G/loss']:7.3f}" if "G/loss" in entry else ""))
trainer_turns = [entry["iteration"] - 1 for entry in history if "G/loss" in entry]
assert trainer_turns == [i for i in range(4) if (i + 1) % config.n_critic == 0], trainer_turns
assert set(step_losses) <= set(history[-1]), "the trainer reports the losses sagan_step returns"

# %% [markdown]
# One iteration of this trainer as a picture, drawn from its `config`: which batch goes through G,
# which losses it feeds, and which network each gradient updates.

# %%
from sagan_lib.diagrams import training_diagram

show_figure(training_diagram(config), "training_iteration", OUT)

# %% [markdown]
# ## 8. What the kit's loop does differently (same maths, less work)
#
# The authors' loop calls the generator four times per generator iteration (once for the critic's
# fakes, then once each for $x_A$, $x_B$, $x_B'$), keeps a graph for the critic's fakes even when no
# generator step follows, and computes the critic's weight gradients during the generator step,
# where they are thrown away. `SaganTrainer` (read the docstring of `sagan_lib/train.py`):
#
# - on generator iterations computes $G(x_A)$ once and reuses it, detached, for the critic step,
#   so $G$ runs three times instead of four. Side effect: the train-mode keep-mask (notebook 03)
#   is drawn once instead of twice for $x_A$;
# - sends $x_A$, $x_B$ and $x_B'$ through $G$ **as one batch of $3B$ images** on a GPU and for
#   narrow models on a CPU. InstanceNorm normalises each sample on its own, so the outputs equal
#   three separate calls; only the InstanceNorm running statistics (used in eval mode) get one
#   update over the windows of all $3B$ images instead of three updates. At full width on a CPU
#   the $3B$-sized activations outgrow the cache and three calls are faster, so there the kit
#   makes three;
# - on critic-only iterations runs $G$ under `no_grad`;
# - freezes the critic's weights during the generator step (as in section 6).
#
# Two choices differ on purpose and keep the authors' behaviour as an option: the learning rate
# falls to zero in a staircase along a straight line, updated every `lr_update_step` iterations
# (`lr_decay="linear"`; the authors' step is kept as `"reference"`; notebook 05, exercise 4), and
# the checkpoint is not selected on the test set by default (`select_on="last"`; notebook 05
# explains why the authors' `"test"` leaks).

# %%
import sagan_lib.train

# the part of the trainer's docstring this lesson needs: one iteration; the rest of it (mixed
# precision, several GPUs with torchrun) is for notebook 05 and sagan_lib/train.py itself
lesson_part = sagan_lib.train.__doc__.split("\nAblations")[0]
print(lesson_part)
print(f"… {len(sagan_lib.train.__doc__.splitlines()) - len(lesson_part.splitlines())} more lines in sagan_lib/train.py")

# %% [markdown]
# ## Summary
# - Critic: stride-2 convs that halve the image and double the channels down to a 1×1 map, then a
#   3×3 conv → one unbounded score per image; no normalisation layers.
# - WGAN-GP: $\mathcal{L}_D = -\mathbb{E}[D(x_B)] + \mathbb{E}[D(G(x_A))] + \lambda_{gp}\,\mathrm{GP}$, with the
#   penalty $(\lVert\nabla D(\hat{x})\rVert_2 - 1)^2$ at $\hat{x} = u\,x_B + (1-u)\,G(x_A)$, one $u$ per image.
# - Generator: $\mathcal{L}_G = -\mathbb{E}[D(G(x_A))] + \lambda_{id}\operatorname{mean}|x_B - G(x_B)| + \operatorname{mean}(x_B - G(x_B'))^2$.
# - Order: a critic step every iteration, a generator step every `n_critic`-th one.

# %% [markdown]
# ## Exercises
#
# Write your answer down before you open a solution. Each solution is hidden:
# run its cell, then open *Show the solution* for its code and what it prints.
#
# ### Exercise 1 · Change `n_critic`
# In 6 iterations, how many generator steps does the trainer take with `n_critic` = 1, 2 and 3?
# And at which iterations? Predict, then run the tiny trainer of section 7 with each value.

# %% cellView="form" jupyter={"source_hidden": true} tags=["solution"]
# @title Solution to exercise 1 (run it: the answer stays folded until you open it)
run_solution("04", 1)

# %% [markdown]
# ### Exercise 2 · The penalty of simple critics
# Predict the gradient penalty of three critics that ignore their training: a flat one,
# $D(x) = 0$; a linear one whose gradient has norm 1, $D(x) = \langle w, x\rangle$ with
# $\lVert w\rVert_2 = 1$; and the same with slope 3, $D(x) = 3\langle w, x\rangle$. Then compute
# them with `gradient_penalty`.

# %% cellView="form" jupyter={"source_hidden": true} tags=["solution"]
# @title Solution to exercise 2 (run it: the answer stays folded until you open it)
run_solution("04", 2)

# %% [markdown]
# ### Exercise 3 · Drop the identity loss
# Suppose you train with `lambda_id = 0`. Is the generator then free to change normal images?
# Hint: look at what $x_B'$ is outside the pasted box, and at which pixels the MSE term compares.
# Check your answer on the batch of section 1.

# %% cellView="form" jupyter={"source_hidden": true} tags=["solution"]
# @title Solution to exercise 3 (run it: the answer stays folded until you open it)
run_solution("04", 3)

# %% [markdown]
# ### Exercise 4 · Detach here, freeze there
# In the critic step the fake images are detached; in the generator step the critic's weights are
# frozen (`requires_grad_(False)`) but gradients still flow *through* the critic. Why each?
#
# <details><summary>Solution</summary>
#
# - **Critic step, fake detached.** The critic loss is minimised with respect to the critic only.
#   Without `detach`, `backward` would also compute gradients for the generator's weights (wasted
#   work), and if the generator's optimiser then stepped, it would follow the critic's objective,
#   i.e. make its fakes *easier* to spot.
# - **Generator step, critic frozen.** The generator needs $\partial D(G(x_A)) / \partial G$, which
#   passes through the critic's layers, so the critic must stay in the graph. Freezing its weights
#   only skips computing gradients that the generator step would throw away; the critic is
#   updated by its own step, with its own loss.
#
# </details>
