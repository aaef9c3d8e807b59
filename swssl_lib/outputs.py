"""What an evaluation leaves behind: ROC/PR figures, a patch-heatmap panel and a JSON report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from anomaly_lib.figures import heatmap_panel, roc_pr_figure
from anomaly_lib.heatmaps import shared_scale

from .data import ImageSet
from .evaluate import Evaluation
from .scoring import patch_map_to_pixels


def heatmap_rows(labels: np.ndarray, n_rows: int = 6) -> list[int]:
    """Test images to show: the first normal and the first abnormal ones, half and half."""
    normal = np.flatnonzero(labels == 0)[: n_rows // 2]
    abnormal = np.flatnonzero(labels == 1)[: n_rows - len(normal)]
    return [int(i) for i in np.concatenate([abnormal, normal])]


def save_figures(evaluation: Evaluation, test_images: ImageSet, save_dir, n_heatmaps: int = 6,
                 title: str = "SWSSL") -> dict[str, str]:
    """ROC/PR figure per scoring, and the patch_knn heatmap panel when there are patch maps.

    The panel's maps share one colour scale anchored at patch_knn's authors' cutoff (the middle
    colour), so rows compare by colour; the border no window covers is left uncoloured.
    """
    save_dir = Path(save_dir)
    save_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, report in evaluation.reports.items():
        path = save_dir / f"roc_{name}.png"
        roc_pr_figure(evaluation.labels, evaluation.scores[name], report=report, path=path,
                      title=f"{title}: {name} scoring")
        paths[f"roc_{name}"] = str(path)
    if evaluation.patch_maps is not None:
        rows = heatmap_rows(evaluation.labels, n_heatmaps)
        images = np.stack([test_images.image(i).numpy() for i in rows])  # (n, H, W) uint8
        pixel_maps = patch_map_to_pixels(evaluation.patch_maps[rows], evaluation.grid)  # (n, H, W)
        scores = evaluation.scores["patch_knn"]
        titles = [f"{'abnormal' if evaluation.labels[i] else 'normal'}\nscore {scores[i]:.3g}"
                  for i in rows]
        path = save_dir / "heatmaps_patch_knn.png"
        cutoff = evaluation.reports["patch_knn"].authors_cutoff.threshold
        scale = shared_scale(cutoff, largest=float(evaluation.patch_maps.max()))
        heatmap_panel(images, pixel_maps, titles=titles, path=path, scale=scale,
                      scale_label="patch_knn window score (mean over covering windows);\n"
                                  "middle colour: the authors' cutoff; uncoloured: no window")
        paths["heatmaps"] = str(path)
    return paths


def write_report(report: dict, path) -> Path:
    """The run's settings and results as JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str))
    return path
