"""Scoring with SAGAN: reconstruct through the windows, compare, average.

    d(i, j) = |x(i, j) − G(x)(i, j)| / 2        (images live in [-1, 1], so d ∈ [0, 1])
    score   = mean over pixels of d

Scores of images sharing an id (the file stem before `__`, e.g. slices of one
study) are averaged, as the authors do.
"""

from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from anomaly_lib.medad import average_by_id
from anomaly_lib.metrics import RocReport, roc_report
from anomaly_lib.predictions import check_finite_scores

from .windows import from_windows, to_windows


@torch.no_grad()
def reconstruct(generator, images: torch.Tensor, num_patch: int = 2):
    """Images `(B, 1, H, W)` → `(reconstructions, anomaly maps)`, both `(B, 1, H, W)`; G in eval mode."""
    was_training = generator.training
    generator.eval()
    windows = to_windows(images, num_patch)  # (B·M, 1, ws, ws)
    reconstructions = from_windows(generator(windows, images.shape[0]), num_patch)  # (B, 1, H, W)
    generator.train(was_training)
    return reconstructions, (images - reconstructions).abs() / 2


def score_images(generator, images: torch.Tensor, num_patch: int = 2, batch_size: int = 64) -> torch.Tensor:
    """One anomaly score per image: the mean of its difference map; shape `(B,)`."""
    scores = [reconstruct(generator, chunk, num_patch)[1].mean(dim=(1, 2, 3)) for chunk in images.split(batch_size)]
    return torch.cat(scores)


@dataclass
class TestScores:
    ids: list  # one per id (study)
    scores: np.ndarray
    labels: np.ndarray
    image_scores: np.ndarray  # one per image, in test-set order
    report: RocReport


def score_test_set(generator, test_set, num_patch: int = 2, batch_size: int = 64, device="cpu",
                   progress: bool = True, checkpoint="the generator") -> TestScores:
    """Score every test image, average per id, and report AUC/AP with `roc_report`; non-finite
    scores (broken weights) stop it, naming `checkpoint`."""
    image_scores = []
    for start in tqdm(range(0, len(test_set), batch_size), desc="scoring", disable=not progress):
        images = torch.stack([test_set[i][0] for i in range(start, min(start + batch_size, len(test_set)))])
        image_scores.append(score_images(generator, images.to(device), num_patch, batch_size))
    image_scores = check_finite_scores(torch.cat(image_scores).cpu().numpy(), checkpoint)
    ids, scores, labels = average_by_id(test_set.ids, image_scores, test_set.labels.tolist())
    return TestScores(ids, scores, labels, image_scores, roc_report(labels, scores))


def save_figures(generator, test_set, result: TestScores, save_dir, num_patch: int = 2, device="cpu",
                 per_class: int = 3) -> dict:
    """Save the ROC/PR figure and a heatmap panel of the highest-scoring normal and abnormal images;
    the panel's overlays share one colour scale anchored at the authors' cutoff."""
    from pathlib import Path

    import matplotlib.pyplot as plt

    from anomaly_lib.figures import reconstruction_panel, roc_pr_figure
    from anomaly_lib.heatmaps import shared_scale

    save_dir = Path(save_dir)
    paths = {"roc": save_dir / "roc_pr.png", "panel": save_dir / "heatmaps.png"}
    figure = roc_pr_figure(result.labels, result.scores, result.report, path=paths["roc"], title="SAGAN")
    plt.close(figure)
    labels = test_set.labels.numpy()
    chosen = []
    for label in (1, 0):
        members = np.flatnonzero(labels == label)
        chosen += list(members[np.argsort(-result.image_scores[members])][:per_class])
    images = torch.stack([test_set[i][0] for i in chosen]).to(device)
    reconstructions, maps = reconstruct(generator, images, num_patch)
    titles = [f"{'abnormal' if labels[i] else 'normal'} · score {result.image_scores[i]:.4f}" for i in chosen]
    # one colour scale for all overlays, 0 to the largest pixel error; the authors' cutoff is an image
    # cutoff on the map's mean, so HeatScale.marked names it once in the overlay bar's label, as a
    # value, and draws no tick for it (lung texture alone passes it pixel by pixel)
    scale = shared_scale(result.report.authors_cutoff.threshold, largest=float(maps.max()), centre=False)
    figure = reconstruction_panel(images, reconstructions, maps, titles=titles, path=paths["panel"], scale=scale,
                                  scale_label="pixel anomaly |x − G(x)| / 2")
    plt.close(figure)
    return paths
