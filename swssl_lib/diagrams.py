"""SWSSL diagrams drawn from the objects themselves: one training step, and the evaluation.

Shapes come from tracing a ``PatchModel`` on one patch (``traced_shapes``), grid sizes from a
``WindowGrid``, the augmentations from the recipe's transforms and the loss constants from
``twin_loss``, so the pictures follow the code when the backbone, the patch size, the step or
the image size change.
"""

from __future__ import annotations

import inspect

import numpy as np
import torch
from matplotlib.figure import Figure
from torchvision.transforms import v2

from anomaly_lib.diagrams import Diagram, count_text, parameter_count, shape_text, traced_shapes

from .augment import augmentation, get_recipe
from .bank import FeatureBank
from .loss import twin_loss
from .model import PatchModel
from .sampling import MAX_NEIGHBOUR_OFFSET, similarity_table
from .sliding import WindowGrid


def _model_shapes(model: PatchModel, patch_size: int) -> dict[str, str]:
    """Traced shapes of one patch through the model, without the batch axis; "embedding" is the
    model's second output, the flattened pooled feature used for scoring."""
    patch = torch.zeros(1, model.input_channel, patch_size, patch_size)  # (1, C, p, p)
    traced = traced_shapes(model, patch)
    shapes = {name: shape_text(shape) for name, shape in traced.items()}
    _, embedding = traced["(model)"]  # forward returns (projection, embedding)
    shapes["embedding"] = shape_text(embedding)
    return shapes


def _random_steps(transform: v2.Compose) -> list[str]:
    """The random steps of an augmentation, with their probabilities: "ColorJitter (p 0.8)"."""
    steps = []
    for step in transform.transforms:
        if isinstance(step, v2.RandomApply):
            names = ", ".join(type(inner).__name__ for inner in step.transforms)
            steps.append((names, step.p))
        elif hasattr(step, "p"):
            steps.append((type(step).__name__, step.p))
    return [f"{name} (p {p:g})" for name, p in steps if p > 0]


def _bytes_text(count: float) -> str:
    for limit, unit in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if count >= limit:
            return f"{count / limit:.1f} {unit}"
    return f"{count:.0f} B"


def training_step_diagram(model: PatchModel, grid: WindowGrid, category: str = "chest", path=None) -> Figure:
    """One training step: a grid patch, its inverted copy and a neighbour, all through the same
    network, into the twin loss. ``grid`` gives the image and patch sizes and the step.
    """
    shapes = _model_shapes(model, grid.patch_size)
    p, width = grid.patch_size, model.width
    targets = similarity_table()
    nearest, farthest = (1, 0), (MAX_NEIGHBOUR_OFFSET, MAX_NEIGHBOUR_OFFSET)
    off_diagonal = inspect.signature(twin_loss).parameters["off_diagonal_weight"].default
    views = "\n".join(_random_steps(augmentation(get_recipe(category), model.input_channel)))
    patch_shape = f"(1, {p}, {p})"
    view_shape = f"({model.input_channel}, {p}, {p})"

    d = Diagram(20.0, 10.0, unit=0.52, title=(
        f"SWSSL training step: {grid.height}×{grid.width} normal images, {p}×{p} patches on a "
        f"{grid.rows}×{grid.cols} grid (step {grid.step_size})\nmodel: {count_text(parameter_count(model))} "
        f"parameters, feature width {width}"))
    lanes = {"view1": 7.6, "view2": 5.0, "neighbour": 2.4}
    image = d.box(1.9, 5.0, 3.4, 2.2, "training image", (
        f"normal, grey ({grid.height}, {grid.width})\n{grid.rows}×{grid.cols} grid of patch starts,\n"
        f"step {grid.step_size}; black patches\nare never drawn"), kind="tensor")
    patch = d.box(5.9, lanes["view1"], 2.9, 1.05, "patch", f"a random grid cell\n{patch_shape}", kind="tensor")
    inverted = d.box(5.9, lanes["view2"], 2.9, 1.05, "inverted patch", f"255 − patch\n{patch_shape}", kind="tensor")
    neighbour = d.box(5.9, lanes["neighbour"], 2.9, 1.3, "neighbour patch",
                      f"another cell within\n±{MAX_NEIGHBOUR_OFFSET} steps per axis\n{patch_shape}", kind="tensor")
    view1 = d.box(9.6, lanes["view1"], 3.4, 1.55, "augment → view 1", f"{views}\n→ {view_shape}")
    view2 = d.box(9.6, lanes["view2"], 3.4, 1.55, "augment → view 2", f"{views}\n→ {view_shape}")
    plain = d.box(9.6, lanes["neighbour"], 3.4, 1.05, "no augmentation", f"→ {view_shape}")
    network = d.box(13.8, 5.0, 3.4, 6.8, "the same network", (
        f"for all three inputs\n\nbackbone: ResNet body\n{count_text(parameter_count(model.backbone))} parameters\n"
        f"→ {shapes['backbone']}\n\naverage pool\n→ embedding {shapes['embedding']}\n\n"
        f"projector: Linear, BN,\nReLU, Linear\n→ projection {shapes['projector']}"))
    loss = d.box(17.95, 5.0, 3.7, 6.8, "twin loss ('paper')", (
        f"p1, p2: z-scored over the\nbatch, C = z1ᵀ z2 / B\n({width} × {width})\n\n"
        f"Σᵢ (Cᵢᵢ − 1)²\n+ {off_diagonal:g} · Σᵢ≠ⱼ Cᵢⱼ²\n\n+ Σ |σ(cos(p1, p2)) − 1|\n\n"
        f"neighbour term:\n+ Σ |σ(cos(p1, pn)) − target|"), kind="loss")

    d.arrow(image.port("right", 0.8), (image.right + 0.4, image.port("right", 0.8)[1]),
            (image.right + 0.4, lanes["view1"]), patch.port("left"))
    d.arrow(image.port("right", 0.2), (image.right + 0.4, image.port("right", 0.2)[1]),
            (image.right + 0.4, lanes["neighbour"]), neighbour.port("left"))
    d.arrow(patch.port("bottom"), inverted.port("top"), label="invert")
    d.arrow(patch.port("right"), view1.port("left"))
    d.arrow(inverted.port("right"), view2.port("left"))
    d.arrow(neighbour.port("right"), plain.port("left"))
    for box, lane, name, kind in ((view1, "view1", "p1", "flow1"), (view2, "view2", "p2", "flow2"),
                                  (plain, "neighbour", "pn", "flow3")):
        d.arrow(box.port("right"), (network.left, lanes[lane]), kind=kind)
        d.arrow((network.right, lanes[lane]), (loss.left, lanes[lane]), kind=kind, label=name)
    d.arrow(neighbour.port("bottom"), (neighbour.x, 0.75), (loss.x, 0.75), loss.port("bottom"), kind="flow3",
            label=f"target similarity from the grid offset (dx, dy): {targets[nearest]:g} at {nearest} … "
                  f"{targets[farthest]:g} at {farthest}")
    d.legend(boxes={"tensor": "patch", "layer": "transform / network", "loss": "loss"},
             arrows={"flow1": "view 1 path", "flow2": "view 2 path (inverted)", "flow3": "neighbour path",
                     "data": "sampling"}, columns=4)
    return d.finish(path)


def evaluation_diagram(model: PatchModel, grid: WindowGrid, n_train: int, k: int = 1, path=None) -> Figure:
    """Evaluation: sliding windows of test and normal training images through the backbone, the
    bank of training features, and the two scorings (``reference`` and ``patch_knn``).
    """
    shapes = _model_shapes(model, grid.patch_size)
    channels, positions = model.width, grid.positions
    bank_dtype = np.dtype(inspect.signature(FeatureBank.__init__).parameters["dtype"].default)
    bank_bytes = n_train * channels * positions * bank_dtype.itemsize
    image_shape = f"({model.input_channel}, {grid.height}, {grid.width})"
    skipped = "" if grid.include_last else "\n(the last start per axis\nis skipped, as the\nauthors' code does)"

    d = Diagram(21.0, 9.6, unit=0.5, title=(
        f"SWSSL evaluation: {grid.height}×{grid.width} images, {grid.rows}×{grid.cols} windows of "
        f"{grid.patch_size}×{grid.patch_size} (step {grid.step_size})\nembedding width {channels}, "
        f"{n_train:,} normal training images in the bank"))
    lanes = {"test": 7.6, "train": 2.0}
    test_image = d.box(1.9, lanes["test"], 3.4, 1.05, "test image", f"normal or abnormal\n{image_shape}",
                       kind="tensor")
    train_images = d.box(1.9, lanes["train"], 3.4, 1.3, "training images",
                         f"the {n_train:,} normal ones only\neach {image_shape}", kind="tensor")
    windows = d.box(5.7, 4.8, 3.2, 7.0, "sliding windows", (
        f"{grid.rows}×{grid.cols} = {positions}\npositions, row by row\n\npatch {grid.patch_size},\n"
        f"step {grid.step_size}{skipped}\n\neach window\n({model.input_channel}, {grid.patch_size}, "
        f"{grid.patch_size})"))
    network = d.box(9.4, 4.8, 3.2, 7.0, "trained model", (
        f"eval mode\n\nbackbone\n→ {shapes['backbone']}\n\naverage pool\n→ embedding {shapes['embedding']}\n\n"
        f"(the projector is\nnot used here)"))
    test_features = d.box(16.2, lanes["test"], 8.6, 1.05, "test features",
                          f"one embedding per window: ({channels}, {positions}) per image", kind="store")
    bank = d.box(16.2, lanes["train"], 8.6, 1.3, "feature bank", (
        f"({n_train:,}, {channels}, {positions}): every training window, {bank_dtype.name}\n"
        f"{_bytes_text(bank_bytes)} (kept on disk or in memory)"), kind="store")
    reference = d.box(14.0, 4.8, 4.2, 3.1, "reference (the authors')", (
        "d[n, c] = ‖bank[n, c, :] − test[c, :]‖₂\n"
        f"over the {positions} positions\ns[c] = min_n d[n, c]\n→ image score = max_c s[c]\n(no heatmap)"),
        kind="loss")
    patch_knn = d.box(18.5, 4.8, 4.2, 3.1, f"patch_knn (k = {k})", (
        f"m[p] = mean of the {k} smallest\n‖bank[n, :, p] − test[:, p]‖₂\nover the {channels} channels\n"
        f"→ image score = max_p m[p]\n→ heatmap: m as {grid.rows}×{grid.cols},\n"
        f"spread over the pixels"), kind="loss")

    for lane, source in (("test", test_image), ("train", train_images)):
        d.arrow(source.port("right"), (windows.left, lanes[lane]), kind="flow1" if lane == "test" else "flow2")
        d.arrow((windows.right, lanes[lane]), (network.left, lanes[lane]),
                kind="flow1" if lane == "test" else "flow2")
    d.arrow((network.right, lanes["test"]), test_features.port("left"), kind="flow1")
    d.arrow((network.right, lanes["train"]), bank.port("left"), kind="flow2")
    for scoring in (reference, patch_knn):
        d.arrow((scoring.x, test_features.bottom), scoring.port("top"), kind="flow1")
        d.arrow((scoring.x, bank.top), scoring.port("bottom"), kind="flow2")
    d.legend(boxes={"tensor": "images", "layer": "windows / network", "store": "features",
                    "loss": "scoring"},
             arrows={"flow1": "test path", "flow2": "training path"}, columns=6)
    return d.finish(path)
