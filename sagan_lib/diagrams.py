"""SAGAN diagrams drawn from the objects themselves: the generator, the critic, one iteration.

Every width, shape and count in these pictures is read from the model (its module tree and
``traced_shapes``) or from a ``SaganConfig``, so they follow the code when ``conv_dim``, the
number of residual blocks, the window grid or a loss weight changes.
"""

from __future__ import annotations

import math

import torch
from matplotlib.figure import Figure

from anomaly_lib.diagrams import (
    Diagram,
    count_text,
    ordinal_every,
    parameter_count,
    shape_text,
    traced_shapes,
)

from .blocks import ResidualBlock
from .config import SaganConfig
from .critic import Discriminator
from .generator import KEEP_PROBABILITY, Generator
from .windows import to_windows


def _kernel(conv) -> str:
    return "×".join(str(side) for side in conv.kernel_size)


def _upsampling(module) -> int:
    """How much a stack of stride-2 transposed convolutions enlarges its input."""
    return 2 ** sum(isinstance(layer, torch.nn.ConvTranspose2d) for layer in module.modules())


def _codes_cancelled(generator: Generator) -> bool:
    """True when every mixer normalises each window on its own right after the 1×1 conv.

    A position code is constant over the window, so after the 1×1 conv it adds a constant to
    each channel, which such a norm removes with the channel's mean.
    """
    norms = [generator.p_bn1[1], generator.p_bn2[1], generator.bn2[1]]
    return all(isinstance(norm, torch.nn.InstanceNorm2d) and not norm.track_running_stats for norm in norms)


def _with_channels(shape: tuple, channels: int) -> str:
    """A traced (N, C, h, w) shape written with another channel count: "(channels, h, w)"."""
    return shape_text((shape[0], channels, *shape[2:]))


def generator_diagram(generator: Generator, image_size: int = 64, path=None) -> Figure:
    """SAGAN's generator as a U: encoder with position codes down the left, gated decoder up the
    right, multi-scale fusion and the residual tanh head on top. Shapes are traced on one
    image's windows (``image_size`` cut into the generator's ``num_memory`` windows).
    """
    num_patch = math.isqrt(generator.num_memory)
    window = image_size // num_patch
    windows = torch.zeros(generator.num_memory, 1, window, window)  # one image: (M, 1, ws, ws)
    traced = traced_shapes(generator, windows)
    shapes = {name: shape_text(shape) for name, shape in traced.items()}
    blocks = sum(isinstance(module, ResidualBlock) for module in generator.bn2)
    plural = "s" * (blocks != 1)

    d = Diagram(18.8, 16.8, title=(
        f"SAGAN generator: conv_dim={generator.layer1[0].out_channels}, {blocks} residual block{plural}, "
        f"{count_text(parameter_count(generator))} parameters\n"
        f"a {image_size}×{image_size} image is cut into {num_patch}×{num_patch} windows of {window}×{window}; "
        f"shapes are (channels, height, width) per window"))
    rows = [13.15, 9.4, 5.65, 1.9]  # stem and fusion, then the three encoder and decoder levels
    top_row, left, gates, decoders = 14.85, 2.2, 7.0, 11.5

    # Encoder: input and stem, then per level a strided conv, the code, and the 1×1 mixer.
    x_box = d.box(left, top_row, 3.6, 0.9, "input x", f"{num_patch ** 2} windows, each {shapes['(model)']}",
                  kind="tensor")
    stem = d.box(left, rows[0], 3.6, 1.05, "stem: layer1",
                 f"conv {_kernel(generator.layer1[0])} + IN + ReLU\n→ {shapes['layer1']}")
    d.arrow(x_box.port("bottom"), stem.port("top"))
    above, skips = stem, []
    levels = [("enc_layer1", "p_bn1", "y1"), ("enc_layer2", "p_bn2", "y2"), ("enc_layer3", "bn2", "embedding")]
    for level, (encoder_name, mixer_name, output_name) in enumerate(levels, start=1):
        row = rows[level]
        encoder = getattr(generator, encoder_name)[0]
        mixer = getattr(generator, mixer_name)[0]  # its first layer: the 1×1 conv
        code_bits = mixer.in_channels - encoder.out_channels
        enc = d.box(left, row + 2.25, 3.6, 1.05, f"encoder {level}: {encoder_name}",
                    f"conv {_kernel(encoder)}, stride {encoder.stride[0]}\n→ {shapes[encoder_name]}")
        if code_bits:
            code = d.box(left, row + 1.125, 3.6, 0.6, "append position code",
                         f"+{code_bits} channels → {_with_channels(traced[encoder_name], mixer.in_channels)}",
                         kind="code")
        else:  # a generator built without codes
            code = d.box(left, row + 1.125, 3.6, 0.6, "no position code", "nothing appended", kind="code")
        if mixer_name == "bn2":
            title, body = "bottleneck: bn2", f"1×1 mixer + {blocks} residual block{plural}"
        else:
            title, body = f"mixer: {mixer_name}", "1×1 conv + IN + ReLU"
        mix = d.box(left, row, 3.6, 1.05, title, f"{body}\n→ {shapes[mixer_name]} = {output_name}")
        d.arrow(above.port("bottom"), enc.port("top"))
        d.arrow(enc.port("bottom"), code.port("top"))
        d.arrow(code.port("bottom"), mix.port("top"))
        above = mix
        skips.append((mix, output_name))

    # Decoder, bottom-up: at each level a gate filters a skip, a block merges it and upsamples.
    levels = [("dec_bn1", "dec_layer1", "out1"), ("dec_bn2", "dec_layer2", "out2"),
              ("dec_bn3", "dec_layer3", "out3")]
    previous = None  # (decoder box, its output's name)
    decoder_boxes = []
    for step, (block_name, up_name, output_name) in enumerate(levels, start=1):
        row = rows[4 - step]
        skip_box, skip_name = skips[3 - step]
        gate_name = f"gate{step}"
        gate = d.box(gates, row, 2.9, 1.05, f"attention gate: {gate_name}",
                     f"gate: {previous[1] if previous else skip_name}\nfilters: {skip_name}\n"
                     f"→ {shapes[gate_name]}", kind="gate")
        block = getattr(generator, block_name)
        decoder = d.box(decoders, row, 4.0, 1.55, f"decoder {step}",
                        f"concat → {_with_channels(traced[block_name], block.main[0].in_channels)}\n"
                        f"{block_name}: residual block\n→ {shapes[block_name]}\n"
                        f"{up_name}: ↑{_upsampling(getattr(generator, up_name))} → {shapes[up_name]}")
        d.arrow(skip_box.port("right"), gate.port("left"), kind="skip", label=skip_name)
        d.arrow(gate.port("right"), decoder.port("left"), kind="skip", label="gated")
        if previous is None:  # the first decoder concatenates the embedding itself
            d.arrow(skip_box.port("bottom", 0.85), (skip_box.right - 0.54, row - 1.0),
                    (decoders - 0.9, row - 1.0), decoder.port("bottom", 0.25), label="embedding")
        else:
            below, name = previous
            d.arrow(below.port("top"), decoder.port("bottom"), label=name)
            d.arrow(below.port("top", 0.1), (below.left + 0.4, row - 1.9), (gates, row - 1.9),
                    gate.port("bottom"), label=f"{name} (gate)")
        previous = (decoder, output_name)
        decoder_boxes.append(decoder)

    # Multi-scale fusion: the two coarser decoder outputs are upsampled to window size.
    up_right = d.box(17.7, rows[3], 2.0, 0.9, "up_conv1",
                     f"↑{_upsampling(generator.up_conv1)} → {shapes['up_conv1']}", kind="merge")
    up_left = d.box(15.45, rows[2], 2.0, 0.9, "up_conv2",
                    f"↑{_upsampling(generator.up_conv2)} → {shapes['up_conv2']}", kind="merge")
    d.arrow(decoder_boxes[0].port("right"), up_right.port("left"), label="out1")
    d.arrow(decoder_boxes[1].port("right"), up_left.port("left"), label="out2")
    fusion = d.box(decoders, rows[0], 4.0, 1.05, "multi-scale fusion",
                   f"concat 3 scales → {_with_channels(traced['bn3'], generator.bn3.main[0].in_channels)}\n"
                   f"bn3: residual block → {shapes['bn3']}", kind="merge")
    d.arrow(previous[0].port("top"), fusion.port("bottom"), label="out3")
    d.arrow(up_left.port("top"), (up_left.x, rows[0] - 0.25), fusion.port("right", 0.26))
    d.arrow(up_right.port("top"), (up_right.x, rows[0] + 0.25), fusion.port("right", 0.74))

    # Head: a residual r, added to the input window and squashed.
    head = d.box(decoders, top_row, 4.0, 0.9, "head: conv",
                 f"conv {_kernel(generator.conv)} → residual r {shapes['conv']}", kind="merge")
    output = d.box(16.75, top_row, 3.6, 1.2, "output tanh(r + x)",
                   f"{shapes['(model)']}\ntrain mode: x replaces r at\n"
                   f"{1 - KEEP_PROBABILITY:.0%} of pixels (random mask)", kind="tensor")
    d.arrow(fusion.port("top"), head.port("bottom"))
    d.arrow(head.port("right"), output.port("left"), label="r")
    d.arrow(x_box.port("top"), (x_box.x, top_row + 0.95), (output.x, top_row + 0.95), output.port("top"),
            kind="residual", label="x itself: the head only learns a correction r")
    if code_bits and _codes_cancelled(generator):
        d.label(0.1, 0.3, "Each code is constant over its window, and the InstanceNorm right after each 1×1 mixer "
                "subtracts every channel's mean over the window:\nin this network the codes are cancelled there "
                "(notebook 02 shows it).", ha="left", background=False)
    d.legend(boxes={"tensor": "input / output", "layer": "conv + InstanceNorm + ReLU",
                    "code": "position code", "gate": "attention gate", "merge": "fusion and head"},
             arrows={"data": "features", "skip": "skip connection", "residual": "residual input x"},
             columns=4)
    return d.finish(path)


def critic_diagram(critic: Discriminator, image_size: int = 64, path=None) -> Figure:
    """The critic's stride-2 convolutions down to its score map, traced on one image.

    Box heights follow the spatial size, so the picture narrows as the critic does.
    """
    traced = traced_shapes(critic, torch.zeros(1, 1, image_size, image_size))  # one image: (1, 1, H, W)
    convs = [(f"main.{name}", layer) for name, layer in critic.main.named_children()
             if isinstance(layer, torch.nn.Conv2d)]
    score_height, score_width = traced["conv1"][2:]
    slot, middle = 2.15, 2.6
    d = Diagram(slot * (len(convs) + 2) + 0.2, 5.5, unit=0.5, title=(
        f"SAGAN critic: {len(convs)} stride-2 convolutions, {count_text(parameter_count(critic))} parameters\n"
        f"one {image_size}×{image_size} image, shapes (channels, height, width)"))

    def height(side: int) -> float:  # 1.35 for a 1×1 map up to 3.6 for the input
        return 1.35 + 2.25 * math.log2(side) / math.log2(image_size)

    previous = d.box(slot / 2, middle, 1.85, height(image_size), "input",
                     f"a whole image\n(not windows)\n(1, {image_size}, {image_size})", kind="tensor")
    for index, (name, conv) in enumerate(convs, start=1):
        shape = traced[name]
        box = d.box(slot * (index + 0.5), middle, 1.85, height(shape[2]), name,
                    f"conv {_kernel(conv)}, /{conv.stride[0]}\n+ LeakyReLU\n{shape_text(shape)}")
        d.arrow(previous.port("right"), box.port("left"))
        previous = box
    score = d.box(slot * (len(convs) + 1.5), middle, 1.85, height(max(score_height, 1)), "conv1",
                  f"conv {_kernel(critic.conv1)}\nscore map\n{shape_text(traced['conv1'])}", kind="loss")
    d.arrow(previous.port("right"), score.port("left"))
    if score_height * score_width == 1:
        verdict = f"At {image_size}×{image_size} the score map is 1×1: one score per image, not a PatchGAN"
    else:
        verdict = f"At {image_size}×{image_size} the score map is {score_height}×{score_width}; the losses take its mean"
    d.label(0.1, 0.35, f"D(x) = the mean of the score map, an unbounded real number (Wasserstein critic): "
            f"higher for images that look like the normals.\n{verdict}. The features before conv1 are returned "
            f"too, but no loss uses them.", ha="left", background=False)
    slope = critic.main[1].negative_slope
    d.legend(boxes={"tensor": "input", "layer": f"conv + LeakyReLU({slope:g})", "loss": "score"},
             arrows={"data": "features"}, columns=4)
    return d.finish(path)


def training_diagram(config: SaganConfig, path=None) -> Figure:
    """One training iteration: which batch goes through G, which losses, which gradients.

    Batch and window shapes come from ``to_windows`` at ``config``'s sizes; loss weights and
    ``n_critic`` from the config.
    """
    batch, size = config.batch_size, config.image_size
    images = torch.zeros(batch, 1, size, size)  # (B, 1, H, W)
    windows = to_windows(images, config.num_patch)  # (B·M, 1, ws, ws)
    image_shape, window_shape = tuple(images.shape), tuple(windows.shape)
    every = ordinal_every(config.n_critic)
    weight = {name: f"{getattr(config, name):g}·" for name in ("lambda_adv", "lambda_id", "lambda_mse")}
    weight = {name: "" if text == "1·" else text for name, text in weight.items()}  # a weight of 1 is left out

    d = Diagram(18.9, 11.2, unit=0.52, title=(
        f"One SAGAN training iteration: batches of {batch} images of {size}×{size}, "
        f"{config.num_patch}×{config.num_patch} windows\nλ_gp = {config.lambda_gp:g}, "
        f"λ_id = {config.lambda_id:g}, n_critic = {config.n_critic}"))
    rows = {"a": 7.6, "b": 5.0, "b'": 2.4}
    batches = {
        "a": d.box(2.3, rows["a"], 3.4, 1.05, "x_A: unlabeled images", f"normal and abnormal mixed\n{image_shape}",
                   kind="tensor"),
        "b": d.box(2.3, rows["b"], 3.4, 1.05, "x_B: labeled normals", f"{image_shape}", kind="tensor"),
        "b'": d.box(2.3, rows["b'"], 3.4, 1.05, "x_B′: synthetic anomalies", f"x_B with a pasted patch\n{image_shape}",
                    kind="tensor"),
    }
    d.arrow(batches["b"].port("bottom"), batches["b'"].port("top"), label="paste a patch\nof another normal")
    generator = d.box(6.9, 5.0, 3.6, 6.6, "G: the generator", (
        f"the same weights for all three\n\nto_windows\n{image_shape}\n→ {window_shape}\n\n"
        f"G on every window\n\nfrom_windows\n→ {image_shape}\n\n"
        f"x_A: every iteration\nx_B, x_B′: {every}"))
    critic = d.box(11.9, rows["a"], 2.6, 1.3, "D: the critic", "scores whole images", kind="layer")
    critic_loss = d.box(16.6, 8.3, 4.0, 2.0, "critic loss (every iteration)",
                        f"−D(x_B) + D(G(x_A)) + {config.lambda_gp:g}·GP\n"
                        f"GP at x̂ = u·x_B + (1 − u)·G(x_A)\nG(x_A) is detached: D learns", kind="loss")
    generator_loss = d.box(16.6, 3.85, 4.0, 4.5, "generator loss", (
        f"{every}\n(i + 1) % n_critic == 0\n\n{weight['lambda_adv']}−D(G(x_A))  adversarial\n"
        f"+ {weight['lambda_id']}|x_B − G(x_B)|  identity (L1)\n"
        f"+ {weight['lambda_mse']}(x_B − G(x_B′))²  removal (MSE)\n\nD is frozen: G learns"), kind="loss")

    flows = {"a": "flow1", "b": "flow2", "b'": "flow3"}
    for key, row in rows.items():
        d.arrow(batches[key].port("right"), (generator.left, row), kind=flows[key])
    fake_in = critic.port("left", 0.3)
    d.arrow((generator.right, fake_in[1]), fake_in, kind="flow1", label="G(x_A): fake")
    d.arrow(batches["b"].port("left"), (0.25, rows["b"]), (0.25, 9.3), (9.65, 9.3), (9.65, rows["a"] + 0.26),
            critic.port("left", 0.7), kind="flow2", label="x_B: real", label_xy=(5.0, 9.3))
    d.arrow(critic.port("right", 0.7), critic_loss.port("left", 0.3), label="scores")
    d.arrow(critic.port("bottom"), (critic.x, 5.75), (generator_loss.left, 5.75), kind="flow1",
            label="D(G(x_A))", label_xy=(13.5, 5.75))
    d.arrow((generator.right, rows["b"]), (generator_loss.left, rows["b"]), kind="flow2", label="G(x_B)",
            label_xy=(9.65, rows["b"]))
    d.arrow((generator.right, rows["b'"]), (generator_loss.left, rows["b'"]), kind="flow3", label="G(x_B′)",
            label_xy=(9.65, rows["b'"]))
    d.arrow(critic_loss.port("top"), (critic_loss.x, 10.0), (critic.x, 10.0), critic.port("top"), kind="gradient",
            label="gradient of the critic loss updates D (every iteration)")
    d.arrow(generator_loss.port("bottom"), (generator_loss.x, 0.85), (generator.x, 0.85), generator.port("bottom"),
            kind="gradient", label=f"gradient of the generator loss updates G ({every})")
    d.legend(boxes={"tensor": "batch", "layer": "network", "loss": "loss"},
             arrows={"flow1": "x_A path (unlabeled)", "flow2": "x_B path (normals)", "flow3": "x_B′ path (anomalies)",
                     "gradient": "gradient step"},
             columns=4)
    return d.finish(path)
