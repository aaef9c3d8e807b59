"""Matplotlib figures for the notebooks and reports: reconstruction panels, heatmap panels, ROC/PR.

The figures are built with ``matplotlib.figure.Figure`` rather than pyplot, so
nothing is left open in pyplot's global state. In a notebook, make the figure
the last expression of a cell (or call ``display(fig)``) to show it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve, roc_curve

from .heatmaps import HeatScale, jet_colours, overlay_heatmap, to_numpy, to_uint8_gray
from .metrics import RocReport, roc_report

PANEL_CELL_INCHES = 2.2  # width and height of one image in a panel


def _as_image_stack(images, what: str) -> np.ndarray:
    """(N, 1, H, W), (N, H, W) or a single (H, W) -> numpy (N, H, W)."""
    stack = to_numpy(images)
    if stack.ndim == 4 and stack.shape[1] == 1:
        stack = stack[:, 0]  # (N, 1, H, W) -> (N, H, W)
    elif stack.ndim == 2:
        stack = stack[None]  # (H, W) -> (1, H, W)
    if stack.ndim != 3:
        raise ValueError(f"{what} must have shape (N, 1, H, W) or (N, H, W); got {stack.shape}")
    return stack


def _save(figure: Figure, path) -> None:
    """Write the figure as a PNG, creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120, bbox_inches="tight")


COLOUR_BAR_INCHES = 1.8  # a colour bar with its ticks and a two-line label


def _image_grid(n_rows: int, column_titles: list[str], row_titles) -> tuple[Figure, np.ndarray]:
    """An empty grid of image axes without ticks; column titles on top, row titles on the left."""
    n_columns = len(column_titles)
    if row_titles is not None and len(row_titles) != n_rows:
        raise ValueError(f"titles has {len(row_titles)} entries but there are {n_rows} images")
    figure = Figure(figsize=(PANEL_CELL_INCHES * n_columns, PANEL_CELL_INCHES * n_rows))
    axes = figure.subplots(n_rows, n_columns, squeeze=False)  # (n_rows, n_columns)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax, column_title in zip(axes[0], column_titles):
        ax.set_title(column_title)
    if row_titles is not None:
        for ax, row_title in zip(axes[:, 0], row_titles):
            longest = max(len(line) for line in str(row_title).split("\n"))
            ax.set_ylabel(row_title, fontsize="small" if longest > 24 else "medium")  # long file names fit a row
    figure.set_layout_engine("constrained")
    return figure, axes


def add_scale_colourbar(figure: Figure, axes, scale: HeatScale, label: str = "anomaly map"):
    """A jet colour bar beside ``axes`` for maps drawn on ``scale``.

    A threshold on the map's largest value gets a tick; an image cutoff on the map's mean
    (``HeatScale.marked``) is named in the label instead, never drawn as a pixel value.
    """
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import ListedColormap, Normalize

    colours = ScalarMappable(Normalize(scale.low, scale.high), ListedColormap(jet_colours() / 255.0))
    width, height = figure.get_size_inches()
    figure.set_size_inches(width + COLOUR_BAR_INCHES, height)  # room for the bar, so the images keep their size
    ticked = scale.anchor is not None and not scale.anchor_on_mean
    if scale.anchor_on_mean:
        label = f"{label}\n(image cutoff {scale.anchor:.3g} is on the map's mean)"
    bar = figure.colorbar(colours, ax=axes, shrink=0.8, label=label)
    ticks = [scale.low, scale.anchor, scale.high] if ticked else [scale.low, scale.high]
    names = [f"{value:.3g}" for value in ticks]
    if ticked:
        names[1] = f"threshold {scale.anchor:.3g}"
    bar.set_ticks(ticks, labels=names)
    return bar


def add_own_range_colourbar(figure: Figure, axes, label: str = "anomaly map"):
    """A jet colour bar for maps each stretched to their own range: its ends say so, with no values."""
    bar = add_scale_colourbar(figure, axes, HeatScale(0.0, 1.0), f"{label}\n(each map stretched to its own range)")
    bar.set_ticks([0.0, 1.0], labels=["its own min", "its own max"])
    return bar


def reconstruction_panel(
    images, reconstructions, anomaly_maps, titles=None, path=None, value_range=(-1, 1),
    scale: HeatScale | None = None, scale_label: str = "pixel anomaly |x − G(x)| / 2",
) -> Figure:
    """One row per image: input | reconstruction | difference | overlay.

    ``images`` and ``reconstructions`` are in ``value_range``; ``anomaly_maps``
    are per-pixel maps. The difference column shares one colour scale over all
    rows, so a row that is redder really has a larger error. The overlay column
    is normalised per image to show *where* the error is, or, given a ``scale``
    (e.g. ``HeatScale.around(threshold)``), drawn on that one scale. Both map columns get a
    colour bar that says which scale they use.
    """
    images = _as_image_stack(images, "images")
    reconstructions = _as_image_stack(reconstructions, "reconstructions")
    anomaly_maps = _as_image_stack(anomaly_maps, "anomaly_maps")
    if not len(images) == len(reconstructions) == len(anomaly_maps):
        raise ValueError(
            f"got {len(images)} images, {len(reconstructions)} reconstructions "
            f"and {len(anomaly_maps)} anomaly maps; they must match"
        )
    figure, axes = _image_grid(
        len(images), ["input", "reconstruction", "difference", "overlay"], titles
    )
    map_min, map_max = float(anomaly_maps.min()), float(anomaly_maps.max())
    for row, (image, reconstruction, anomaly_map) in enumerate(
        zip(images, reconstructions, anomaly_maps)
    ):
        axes[row, 0].imshow(to_uint8_gray(image, value_range), cmap="gray", vmin=0, vmax=255)
        axes[row, 1].imshow(
            to_uint8_gray(reconstruction, value_range), cmap="gray", vmin=0, vmax=255
        )
        difference = axes[row, 2].imshow(anomaly_map, cmap="inferno", vmin=map_min, vmax=map_max)
        axes[row, 3].imshow(overlay_heatmap(image, anomaly_map, value_range=value_range, scale=scale))
    figure.colorbar(difference, ax=axes[:, 2], shrink=0.9, location="bottom",
                    label=f"{scale_label}\n(one scale for all rows)")
    if scale is None:
        add_own_range_colourbar(figure, axes[:, 3], scale_label)
    else:
        add_scale_colourbar(figure, axes[:, 3], scale, scale_label)
    if path is not None:
        _save(figure, path)
    return figure


def heatmap_panel(images, anomaly_maps, titles=None, path=None, value_range=(0, 1),
                  scale: HeatScale | None = None, scale_label: str = "anomaly map") -> Figure:
    """One row per image: input | heatmap overlay (maps may be coarser than the images).

    Each map is scaled to its own range, or, given a ``scale``, all share it; either way a colour
    bar labelled ``scale_label`` says which. NaN pixels of a map are left uncoloured.
    """
    images = _as_image_stack(images, "images")
    anomaly_maps = _as_image_stack(anomaly_maps, "anomaly_maps")
    if len(images) != len(anomaly_maps):
        raise ValueError(f"got {len(images)} images but {len(anomaly_maps)} anomaly maps")
    figure, axes = _image_grid(len(images), ["input", "heatmap overlay"], titles)
    for row, (image, anomaly_map) in enumerate(zip(images, anomaly_maps)):
        axes[row, 0].imshow(to_uint8_gray(image, value_range), cmap="gray", vmin=0, vmax=255)
        axes[row, 1].imshow(overlay_heatmap(image, anomaly_map, value_range=value_range, scale=scale))
    if scale is None:
        add_own_range_colourbar(figure, axes[:, 1], scale_label)
    else:
        add_scale_colourbar(figure, axes[:, 1], scale, scale_label)
    if path is not None:
        _save(figure, path)
    return figure


def roc_pr_figure(labels, scores, report: RocReport | None = None, path=None, title=None) -> Figure:
    """ROC curve (with both operating points marked) next to the precision-recall curve."""
    if report is None:
        report = roc_report(labels, scores)  # also validates labels and scores
    labels = np.asarray(labels).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    fpr, tpr, _ = roc_curve(labels, scores)
    precision, recall, _ = precision_recall_curve(labels, scores)

    figure = Figure(figsize=(10, 4.6))
    roc_ax, pr_ax = figure.subplots(1, 2)

    roc_ax.plot(fpr, tpr, color="tab:blue", lw=2, label=f"ROC (AUC = {report.auc:.3f})")
    roc_ax.plot([0, 1], [0, 1], color="gray", ls="--", lw=1, label="chance")
    markers = [
        ("authors' cutoff", report.authors_cutoff, "o", 9),
        ("Youden's J", report.youden, "s", 6),
    ]
    for name, point, marker, size in markers:
        roc_ax.plot(
            1 - point.specificity,  # false positive rate
            point.sensitivity,  # true positive rate
            marker=marker,
            markersize=size,
            ls="none",
            label=(
                f"{name}: t={point.threshold:.3g}, "
                f"sens {point.sensitivity:.2f}, spec {point.specificity:.2f}"
            ),
        )
    roc_ax.set_xlabel("false positive rate (1 - specificity)")
    roc_ax.set_ylabel("true positive rate (sensitivity)")
    roc_ax.set_title("ROC curve")

    prevalence = report.n_abnormal / (report.n_normal + report.n_abnormal)
    # sklearn's precision-recall points form a step function
    pr_ax.plot(
        recall,
        precision,
        color="tab:purple",
        lw=2,
        drawstyle="steps-post",
        label=f"PR (AP = {report.ap:.3f})",
    )
    pr_ax.axhline(prevalence, color="gray", ls="--", lw=1, label=f"chance ({prevalence:.2f})")
    pr_ax.set_xlabel("recall (sensitivity)")
    pr_ax.set_ylabel("precision")
    pr_ax.set_title("precision-recall curve")

    for ax in (roc_ax, pr_ax):
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_aspect("equal")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right" if ax is roc_ax else "lower left", fontsize=8)
    if title is not None:
        figure.suptitle(title)
    figure.set_layout_engine("constrained")
    if path is not None:
        _save(figure, path)
    return figure


def show_figure(figure, name: str, folder) -> None:
    """Save `figure` as `folder/name.png`, then display that PNG once (for notebooks).

    Showing the saved PNG works the same under every matplotlib backend,
    including the non-interactive one the tests use. It returns nothing, so a
    notebook cell that ends with it shows the picture and no stray value.
    """
    from IPython.display import Image, display

    path = Path(folder) / f"{name}.png"
    _save(figure, path)
    if hasattr(figure, "number"):  # a pyplot figure: release it
        import matplotlib.pyplot as plt

        plt.close(figure)
    display(Image(filename=str(path)))
