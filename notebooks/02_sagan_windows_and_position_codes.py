# %% [markdown]
# # 02 · SAGAN: windows and position codes
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/anomaly-course-kit/anomaly-course-kit/blob/main/notebooks/02_sagan_windows_and_position_codes.ipynb) [![Read it rendered](https://img.shields.io/badge/read-rendered-2ea44f)](https://anomaly-course-kit.github.io/anomaly-course-kit/02_sagan_windows_and_position_codes.html)
#
# **Learning goals**
# - Cut a batch of 64×64 images into a 2×2 grid of 32×32 windows with the authors' `make_window`
#   (channels-last) and stitch them back with `window_reverse`, exactly; then do the same with the
#   kit's NCHW `to_windows` / `from_windows`.
# - Give three reasons for working on windows, and name what is lost.
# - Write down the binary position codes for 4 windows and say where the generator appends them.
# - Check, by running the network, what the codes can and cannot do in the published architecture.

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
from functools import partial
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from anomaly_lib.figures import show_figure
from anomaly_lib.phantoms import draw_chest
from sagan_lib.config import SaganConfig
from sagan_lib.data import to_model_range

OUT = Path("outputs") / "02_sagan_windows_and_position_codes"
OUT.mkdir(parents=True, exist_ok=True)

show = partial(show_figure, folder=OUT)  # show(fig, name): save OUT/name.png and display it

# A batch of B = 2 phantom chest images in the model's range: one normal, one with a lesion.
phantoms = [draw_chest(np.random.default_rng(seed), 64, abnormal=seed == 1) for seed in (0, 1)]
images = to_model_range(torch.from_numpy(np.stack([p.image for p in phantoms]))).unsqueeze(1)  # (2, 1, 64, 64)
B, C, H, W = images.shape
print("images:", tuple(images.shape), "in", f"[{images.min():.2f}, {images.max():.2f}]")

# %% [markdown]
# ## 1. `make_window`: the authors' way, channels last
#
# The authors' `make_window` expects images as `(B, H, W, C)` (channels last) and returns windows
# as `(B·N, ws, ws, C)`. Inside, it uses `F.unfold`, which slides a `ws × ws` kernel over the image
# and writes every position it visits as one column of `C·ws·ws` numbers. SAGAN calls it with
# `ws = 64 // num_patch = 32` and **`stride = 32`**, so the kernel jumps by a whole window and
# visits the four corners of a 2×2 grid:

# %%
# NBVAL_CHECK_OUTPUT
from sagan_lib.windows import from_windows, make_window, to_windows, window_reverse

num_patch = 2
ws = H // num_patch  # window size: 32

x = images.permute(0, 2, 3, 1)  # (B, H, W, C) = (2, 64, 64, 1): channels last, as the authors
columns = F.unfold(images, kernel_size=ws, stride=ws)  # what make_window does inside: (B, C·ws·ws, N)
windows_cl = make_window(x, window_size=ws, stride=ws)  # (B·N, ws, ws, C) = (8, 32, 32, 1)
windows = windows_cl.permute(0, 3, 1, 2)  # (B·N, C, ws, ws) = (8, 1, 32, 32): what the generator eats
print("images, channels last :", tuple(x.shape))
print("unfold columns        :", tuple(columns.shape), "= (B, C·ws·ws, windows per image)")
print("make_window           :", tuple(windows_cl.shape))
print("generator input       :", tuple(windows.shape))

# %% [markdown]
# Careful with the default: `make_window`'s `stride` defaults to **1**, as in the authors' code.
# Forgetting `stride=ws` silently gives every overlapping window, $(64 - 32 + 1)^2 = 1089$ per image:

# %%
# NBVAL_CHECK_OUTPUT
print("stride 1 :", tuple(make_window(x, window_size=ws).shape))

# %% [markdown]
# The windows come out **image by image, then row by row, left to right**: windows 0–3 are image
# 0's top-left, top-right, bottom-left and bottom-right; windows 4–7 the same for image 1. This
# order matters twice: the position code of window $k$ is the code of $k \bmod 4$, and
# `window_reverse` relies on it to put each window back.

# %%
fig = plt.figure(figsize=(14, 5.2), layout="constrained")
grid = fig.add_gridspec(2, 6, width_ratios=[2, 2, 1, 1, 1, 1])
for b in range(B):
    ax = fig.add_subplot(grid[:, b])
    ax.imshow(images[b, 0], cmap="gray", vmin=-1, vmax=1)
    ax.axhline(ws - 0.5, color="yellow", lw=1.5)
    ax.axvline(ws - 0.5, color="yellow", lw=1.5)
    for k in range(4):
        row, col = divmod(k, num_patch)
        ax.text(col * ws + 2, row * ws + 5, f"{b * 4 + k}", color="yellow", fontsize=13, weight="bold", va="top")
    ax.set_title(f"image {b} ({'with lesion' if b else 'normal'})")
    ax.set_xticks([])
    ax.set_yticks([])
for k in range(B * 4):
    ax = fig.add_subplot(grid[k // 4, 2 + k % 4])
    ax.imshow(windows[k, 0], cmap="gray", vmin=-1, vmax=1)
    row, col = divmod(k % 4, num_patch)
    ax.set_title(f"window {k}\nimage {k // 4}, (row {row}, col {col})", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle("make_window with stride 32: four 32×32 windows per image, in row-major order")
show(fig, "window_grid")

# %% [markdown]
# ## 2. `window_reverse`: back to whole images, exactly
#
# After the generator, the windows go back into images before the critic judges them and before
# the anomaly score is computed. `window_reverse(windows, ws, H, W)` undoes `make_window` (for
# non-overlapping windows): it reshapes `(B·N, ws, ws, C)` to `(B, rows, cols, ws, ws, C)`, swaps
# axes so rows of windows interleave with rows of pixels, and flattens to `(B, H, W, C)`. No
# arithmetic happens, only a reordering, so the round trip is exact:

# %%
# NBVAL_CHECK_OUTPUT
stitched = window_reverse(windows_cl, ws, H, W)  # (B, H, W, C) = (2, 64, 64, 1)
restored = stitched.permute(0, 3, 1, 2)  # (B, C, H, W) = (2, 1, 64, 64)
print("window_reverse:", tuple(stitched.shape), "→ NCHW", tuple(restored.shape))
print("exact round trip:", torch.equal(restored, images))
assert torch.equal(restored, images)

# %% [markdown]
# The rest of the kit keeps tensors in PyTorch's usual NCHW layout, so it uses `to_windows` /
# `from_windows`, which do the same with reshapes and permutes, without the detour through
# channels-last. Same windows, same order:

# %%
# NBVAL_CHECK_OUTPUT
kit_windows = to_windows(images, num_patch)  # (B·4, 1, 32, 32)
print("to_windows:", tuple(kit_windows.shape), "| same as make_window:", torch.equal(kit_windows, windows))
print("from_windows:", tuple(from_windows(kit_windows, num_patch).shape),
      "| exact round trip:", torch.equal(from_windows(kit_windows, num_patch), images))
print("num_patch = 4:", tuple(to_windows(images, 4).shape), "(16 windows of 16×16 per image)")
assert torch.equal(kit_windows, windows) and torch.equal(from_windows(kit_windows, num_patch), images)
assert to_windows(images, 4).shape == (len(images) * 16, 1, 16, 16)

# %% [markdown]
# The generator halves a window three times (32 → 16 → 8 → 4), so a window side must be a multiple
# of 8, and the image side a multiple of `num_patch · 8`. The kit checks this up front instead of
# failing deep inside the network (one case still slips through; exercise 1 finds it):

# %%
try:
    to_windows(torch.zeros(1, 1, 72, 72), num_patch=2)
except ValueError as error:
    print("ValueError:", error)

# %% [markdown]
# ## 3. Why windows?
#
# - **Not a bigger batch.** A batch of $B$ images becomes $4B$ windows per generator call (the
#   authors' numbers are printed below), but every loss is computed on the *re-stitched* images:
#   the critic sees whole images, and the identity and anomaly losses are means over the same
#   $B \cdot H \cdot W$ pixels whether you count them by image or by window. So a gradient step
#   averages over exactly the same data as without windows. What windowing changes is inside the
#   generator: each window is convolved and normalised on its own (the cell below checks both).
# - **Local detail.** Each window is reconstructed from its own 32×32 pixels only. The generator
#   becomes a model of *local* anatomy (a piece of lung, a rib crossing, the heart border) rather
#   than of whole images, and a lesion cannot be explained away by context from elsewhere.
# - **Shared weights.** One network serves all four windows, so every window trains the same
#   weights: four times the data per parameter compared with one network per region.
#
# What is lost: a window does not know **where it came from**. A patch of lung from the top left
# and one from the top right look much alike, yet the normal anatomy around them differs (the heart
# is on one side only). The critic and the anomaly score still see the stitched image, but the
# generator itself only gets 32×32 pixels. SAGAN's intended answer: tell each window its index.
# Section 6 tests whether that works.

# %%
from sagan_lib import from_windows, to_windows

authors = SaganConfig()
print(f"the authors' batch: {authors.batch_size} images → {authors.batch_size * authors.num_memory} windows "
      f"of {authors.image_size // authors.num_patch}×{authors.image_size // authors.num_patch} per generator call")
# a stand-in reconstruction: what changes between counting by window and counting by image?
fake_output = (images + 0.1 * torch.randn_like(images)).clamp(-1, 1)  # (B, 1, H, W)
by_image = (images - fake_output).abs().mean()
by_window = (to_windows(images, 2) - to_windows(fake_output, 2)).abs().mean()  # (4B, 1, 32, 32) → one mean
assert torch.isclose(by_image, by_window) and torch.equal(from_windows(to_windows(images, 2), 2), images)
print(f"L1 over images {by_image:.5f} = L1 over windows {by_window:.5f}: the loss sees the same pixels")
window_means = to_windows(images, 2).mean(dim=(1, 2, 3))  # (4B,): what a per-window norm subtracts
print(f"per-window means {[round(v, 2) for v in window_means[:4].tolist()]} vs the image's {images[0].mean():.2f}: "
      "a norm inside the generator sees each window's own statistics")

# %% [markdown]
# ## 4. Binary position codes
#
# With $M$ windows per image, window $k$ gets the binary digits of $k$ as a code of
# $\lfloor \log_2 M \rfloor + 1$ bits, most significant first. For $M = 4$ that is 3 bits
# (one more than strictly needed; the top bit is always 0, as in the authors' code):

# %%
# NBVAL_CHECK_OUTPUT
from sagan_lib.position_codes import append_position_codes, binary_position_codes

codes = binary_position_codes(4)  # (M, bits) = (4, 3)
print("codes:", tuple(codes.shape))
for k, code in enumerate(codes.int().tolist()):
    print(f"  window {k} (row {k // 2}, col {k % 2}) → {code}")
print("M = 9 :", tuple(binary_position_codes(9).shape), "| M = 16:", tuple(binary_position_codes(16).shape))

# %% [markdown]
# `append_position_codes(features, codes)` adds the code of each window as extra **constant
# channels**: bit $j$ of window $k$ becomes a whole $h \times w$ map filled with that bit. At the
# first place the published generator uses it, the features have `2 · conv_dim` channels at half the
# window's side (we use a random stand-in of that shape):

# %%
# NBVAL_CHECK_OUTPUT
channels = 2 * authors.g_conv_dim  # enc_layer1's output channels at the published width: 128
features = torch.randn(B * 4, channels, ws // 2, ws // 2)  # stand-in for enc_layer1's output: (8, 128, 16, 16)
with_codes = append_position_codes(features, codes)  # (B·4, 128 + 3, 16, 16)
print(tuple(features.shape), "→", tuple(with_codes.shape))
print("features unchanged:", torch.equal(with_codes[:, :channels], features))
assert with_codes.shape == (B * 4, channels + codes.shape[1], ws // 2, ws // 2)
assert torch.equal(with_codes[:, :channels], features)
window_codes = with_codes[:, channels:, 0, 0]  # (B·4, 3): the value of each code map
print("code channels of windows 0–7 (image 0, then image 1):")
print(window_codes.int())

# %%
fig, axes = plt.subplots(3, 4, figsize=(7, 5.4), layout="constrained")
for k in range(4):
    for bit in range(3):
        ax = axes[bit, k]
        ax.imshow(with_codes[k, channels + bit], cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_edgecolor("tab:blue")
        if bit == 0:
            ax.set_title(f"window {k}: {codes[k].int().tolist()}")
for bit, meaning in enumerate(["most significant bit", "middle bit", "least significant bit"]):
    axes[bit, 0].set_ylabel(f"channel {channels + bit}\n({meaning})", fontsize=9)
fig.suptitle(f"The three appended channels of each window: constant {ws // 2}×{ws // 2} maps (white = 1)")
show(fig, "position_code_channels")

# %% [markdown]
# ## 5. Where the codes enter the generator
#
# The generator (`sagan_lib/generator.py`) appends the codes three times on its way down: after
# `enc_layer1`, folded back to the same width by the 1×1 convolution that opens `p_bn1`; after
# `enc_layer2`, folded back by `p_bn2`; and after `enc_layer3`, folded back by the first layers of
# the bottleneck `bn2`, before its residual blocks. Here are the lines of `Generator.forward` that
# do it, read from the installed source:

# %%
import inspect

from sagan_lib.generator import Generator

source_lines, first_line = inspect.getsourcelines(Generator.forward)
for number, line in enumerate(source_lines, start=first_line):
    if "append_position_codes" in line or "codes = " in line:
        print(f"generator.py:{number}: {line.strip()}")

# %% [markdown]
# Rather than trust the description, run the full-size generator (the published width) on our 8
# windows and record the shape going **into** and coming **out of** each encoder module with
# forward hooks:

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
generator = Generator(conv_dim=64, repeat_num=6, num_memory=4).eval()
records = []


def record(name):
    def hook(module, inputs, output):
        records.append((name, tuple(inputs[0].shape), tuple(output.shape)))
    return hook


watched = ["layer1", "enc_layer1", "p_bn1", "enc_layer2", "p_bn2", "enc_layer3", "bn2"]
handles = [getattr(generator, name).register_forward_hook(record(name)) for name in watched]
reconstruction = generator(windows)  # (B·4, 1, 32, 32); gradients kept for section 6
for handle in handles:
    handle.remove()
print(f"{'module':<11} {'input':<20} output")
for name, shape_in, shape_out in records:
    print(f"{name:<11} {str(shape_in):<20} {shape_out}")
print("generator output:", tuple(reconstruction.shape))
shapes = {name: (shape_in, shape_out) for name, shape_in, shape_out in records}
for encoder, mixer in [("enc_layer1", "p_bn1"), ("enc_layer2", "p_bn2"), ("enc_layer3", "bn2")]:
    print(f"{encoder} gives {shapes[encoder][1][1]} channels; {mixer} reads {shapes[mixer][0][1]} "
          f"(+ {shapes[mixer][0][1] - shapes[encoder][1][1]} code channels) and returns {shapes[mixer][1][1]}")

# %% [markdown]
# Each mixer reads three channels more than the encoder layer before it gives: the code. The full
# per-layer table of the generator, from `anomaly_lib.shapes.trace_shapes`, is the subject of
# notebook 03; here are its encoder rows:

# %%
# NBVAL_CHECK_OUTPUT
from anomaly_lib.shapes import trace_shapes

trace = trace_shapes(generator, windows, max_depth=1)
encoder_rows = [row for row in trace.rows if row.name in watched]
print(f"{'module':<11} {'output shape':<18} params")
for row in encoder_rows:
    print(f"{row.name:<11} {str(row.output_shape):<18} {row.params:>10,}")

# %% [markdown]
# ## 6. What the codes can do here: an experiment
#
# If the codes work, the *same* 32×32 content placed at different positions should be
# reconstructed differently. Feed the generator four identical copies of one window, as if it
# appeared at all four positions:

# %%
same_window = windows[1:2].repeat(4, 1, 1, 1)  # (4, 1, 32, 32): window 1 at positions 0, 1, 2, 3
conv_outputs = {}
hook = generator.p_bn1[0].register_forward_hook(lambda module, inputs, output: conv_outputs.update(conv=output))
with torch.no_grad():
    outputs = generator(same_window)  # (4, 1, 32, 32)
hook.remove()
after_conv = conv_outputs["conv"]  # p_bn1's 1×1 conv output, before its InstanceNorm: (4, 128, 16, 16)
print(f"after p_bn1's 1×1 conv, positions differ by up to {(after_conv - after_conv[:1]).abs().max():.3f}")
print(f"generator outputs, positions differ by up to  {(outputs - outputs[:1]).abs().max():.1e}")

# %% [markdown]
# Right after the 1×1 convolution the four positions differ, yet the reconstructions agree to
# float rounding (the second printed difference). The reason is the layer that follows. Each mixer is
# `Conv 1×1 → InstanceNorm → ReLU`.
#
# **InstanceNorm**, first. For a feature map $z$ of shape (windows, channels, $h$, $w$), it normalises
# each channel $o$ of each window $n$ over that window's own $h \times w$ pixels:
#
# $$\mathrm{IN}(z)_{n,o,i,j} = \frac{z_{n,o,i,j} - \mu_{n,o}}{\sqrt{\sigma^2_{n,o} + \varepsilon}}, \qquad
#   \mu_{n,o} = \tfrac{1}{hw}\sum_{i,j} z_{n,o,i,j}, \quad \sigma^2_{n,o} = \tfrac{1}{hw}\sum_{i,j} (z_{n,o,i,j} - \mu_{n,o})^2 .$$
#
# Unlike BatchNorm, nothing is shared across windows or images. Some InstanceNorms also rescale with
# learned $\gamma_o, \beta_o$ (notebook 03 meets those); the mixers' have no learned scale, shift or
# running statistics. The cell below checks the formula against PyTorch's layer on the mixer's
# own output. So the mixer's norm subtracts, per window and per channel, the mean over the
# $h \times w$ positions.
# The code's contribution to output channel $o$ is $\sum_j w_{o,j}\,\text{bit}_j$, **the same at every
# pixel** of the window, so it is part of that mean and is subtracted away:
#
# $$ \mathrm{IN}(z + c)_{o} = \frac{(z_o + c_o) - \mu(z_o + c_o)}{\sigma(z_o + c_o)} = \frac{z_o - \mu(z_o)}{\sigma(z_o)} = \mathrm{IN}(z)_o
#    \quad\text{for a per-window constant } c_o . $$
#
# The gradient tells the same story: the conv weights that read the code channels get (almost) no
# gradient, so training cannot make them matter.

# %%
mixer_norm = generator.p_bn1[1]  # InstanceNorm2d(128), no affine, no running statistics
assert isinstance(mixer_norm, torch.nn.InstanceNorm2d) and not mixer_norm.affine and not mixer_norm.track_running_stats
mean = after_conv.mean(dim=(2, 3), keepdim=True)  # (4, 128, 1, 1): μ per window and channel
variance = after_conv.var(dim=(2, 3), unbiased=False, keepdim=True)
by_formula = (after_conv - mean) / torch.sqrt(variance + mixer_norm.eps)
assert torch.allclose(mixer_norm(after_conv), by_formula, atol=1e-4)
print(f"{mixer_norm}: equals the formula (max difference {(mixer_norm(after_conv) - by_formula).abs().max():.1e})")
generator.zero_grad()
reconstruction.square().mean().backward()  # any loss on the 8 windows of section 5 will do
weight_grad = generator.p_bn1[0].weight.grad[:, :, 0, 0]  # (128 outputs, 128 + 3 inputs)
bits = codes.shape[1]
print(f"largest gradient on weights reading the {weight_grad.shape[1] - bits} features: "
      f"{weight_grad[:, :-bits].abs().max():.1e}")
print(f"largest gradient on weights reading the {bits} code bits:  {weight_grad[:, -bits:].abs().max():.1e}")

# %% [markdown]
# So, in the published architecture, the position codes are appended and then cancelled: the
# generator treats every window alike, and whatever it knows about position it has to infer from
# the window's content. This is a property of the design, not of the kit: the kit's tests check
# that its outputs equal the authors' number for number, and it loads their published checkpoints,
# in which the codes therefore have no effect either.
#
# For an interview ("do the position codes work?"), answer in three steps:
# 1. **Intent.** The weights are shared by all windows, so SAGAN appends each window's index in
#    binary, to let the network treat regions differently.
# 2. **Catch.** Each code is followed by a 1×1 convolution and an InstanceNorm without learned
#    parameters or running statistics. A constant channel becomes one constant per output channel,
#    which the norm subtracts with the mean: the output is the same for every code (the experiment
#    above), so any benefit reported for the codes cannot come from this mechanism.
# 3. **Fix.** Append the codes after the normalisation (exercise 2 builds this), let the norm's
#    scale and shift depend on the code (conditional normalisation), or use position maps that vary
#    across the window, such as coordinate channels (CoordConv).

# %% [markdown]
# ## Summary
# - `make_window(x, 32, stride=32)` turns `(B, 64, 64, 1)` into `(B·4, 32, 32, 1)` (channels last,
#   image by image, row-major); `window_reverse` undoes it exactly. `to_windows` / `from_windows`
#   do the same in NCHW. Without `stride=32` you get every overlapping window, $(64 - 32 + 1)^2$ per image.
# - Windows give the generator a model of local anatomy with shared weights, normalised per
#   window; they do not enlarge the batch (every loss sees the re-stitched images), and they lose
#   the window's position.
# - Position codes: $\lfloor\log_2 M\rfloor + 1$ bits of the window index as constant channels,
#   appended after `enc_layer1`, after `enc_layer2` and before the bottleneck's residual blocks,
#   each time folded back to the same width by a 1×1 conv. They are meant to tell the shared
#   network where each window sits.
# - Because an InstanceNorm without learned parameters or running statistics follows each of those
#   convs, the constant code channels cancel: identical windows at different positions get
#   identical reconstructions, in the kit and in the authors' checkpoints.
#
# Next: **03 · The generator, shape by shape**.

# %% [markdown]
# ## Exercises
#
# Write your answer down before you open a solution. Each solution is hidden:
# run its cell, then open *Show the solution* for its code and what it prints.
#
# ### Exercise 1 · Other grids
# For our batch of two 64×64 images, predict for `num_patch` = 1, 4 and 8: the shape of
# `to_windows(images, num_patch)`, the shape of the position codes, and whether a small generator
# (`Generator(conv_dim=8, repeat_num=1, num_memory=num_patch**2)`) reconstructs the windows.

# %% cellView="form" jupyter={"source_hidden": true} tags=["solution"]
# @title Solution to exercise 1 (run it: the answer stays folded until you open it)
run_solution("02", 1)

# %% [markdown]
# ### Exercise 2 · Move the codes after the norm
# Section 6 blames the InstanceNorm that follows each code. Build a variant in which the codes'
# contribution is added **after** that norm, without editing the library (hint: a forward hook on
# each mixer's InstanceNorm can add `W_code · code`, using the mixer conv's own weights for the
# code channels). Then feed it the same window at four positions, as in section 6. Do the outputs
# now differ?

# %% cellView="form" jupyter={"source_hidden": true} tags=["solution"]
# @title Solution to exercise 2 (run it: the answer stays folded until you open it)
run_solution("02", 2)

# %% [markdown]
# ### Exercise 3 · Does a window care about its batch?
# Predict: is the reconstruction of image 0's four windows the same when they go through the
# generator alone as when they go through with image 1's windows? Would the answer change with
# BatchNorm instead of InstanceNorm? Check the first question with a small generator in eval mode.

# %% cellView="form" jupyter={"source_hidden": true} tags=["solution"]
# @title Solution to exercise 3 (run it: the answer stays folded until you open it)
run_solution("02", 3)

# %% [markdown]
# ### Exercise 4 · The ablation argument
# A colleague says: "the position codes must help, an ablation without them scored a higher AUC
# with them." Using section 6, what can explain that difference, and how would you check?
#
# <details><summary>Solution</summary>
#
# With the same weights, a published SAGAN generator gives the same output whatever the codes are,
# so the codes themselves cannot cause the difference. Removing them still changes the run: three
# 1×1 convolutions lose input channels, so their weight tensors have other shapes, which changes
# the random initialisation and every random draw after it (data order, synthetic anomalies,
# keep-masks). Two GAN runs that differ only in their random draws can differ in AUC by more than a
# small ablation gap. To check: (1) on the trained model, reconstruct test images with the codes
# replaced by zeros and confirm that the outputs are unchanged up to rounding; (2) train each
# variant with several seeds and compare the difference of the means with the spread within each
# variant. In an interview, give the intent, then this catch, then a fix (exercise 2).
#
# </details>
