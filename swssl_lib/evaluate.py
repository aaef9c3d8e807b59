"""Evaluation: feature bank of the normal training images, test features, scores, ROC.

As the authors: the model is in eval mode, every image is cut into sliding windows, and each
window's feature is the pooled backbone embedding. The test features are held in memory
(float16, M × channels × positions) while the bank is streamed, so the bank is read once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from anomaly_lib.metrics import RocReport, roc_report

from .bank import FeatureBank, build_feature_bank, check_storable
from .model import fold_batchnorm
from .scoring import score_patch_knn, score_reference
from .sliding import WindowGrid, sliding_window_features

SCORINGS = ("reference", "patch_knn")


@dataclass
class Evaluation:
    """Scores of the test images under each scoring, and the patch maps of ``patch_knn``."""

    labels: np.ndarray  # (M,) 0 normal, 1 abnormal
    scores: dict[str, np.ndarray]  # scoring → (M,)
    reports: dict[str, RocReport]
    grid: WindowGrid
    patch_maps: torch.Tensor | None = None  # (M, rows, cols) from patch_knn
    extra: dict = field(default_factory=dict)
    heldout_scores: dict[str, list] | None = None  # scoring → scores of held-out normal images

    def as_dict(self) -> dict:
        return {name: report.as_dict() for name, report in self.reports.items()}

    def summary(self) -> str:
        return "\n".join(f"[{name}] {report}" for name, report in self.reports.items())


@torch.inference_mode()
def extract_test_features(model, loader: DataLoader, patch_size: int, step_size: int,
                          chunk_size: int = 64, include_last: bool = False, progress: bool = True):
    """Window features of all test images, float16 (M, channels, positions), their labels (M,)
    and the window grid."""
    model.eval()
    features, labels = [], []
    for images, batch_labels in tqdm(loader, desc="test features", unit="batch", disable=not progress):
        batch = sliding_window_features(model, images, patch_size, step_size, chunk_size, include_last)
        first = sum(len(f) for f in features)
        check_storable(batch, np.float16, f"test images {first}–{first + len(batch) - 1}")
        features.append(batch.half())  # (B, C, P)
        labels.append(torch.as_tensor(batch_labels))
    if not features:
        raise ValueError("extract_test_features: the loader yielded no test images")
    grid = WindowGrid(images.shape[-2], images.shape[-1], patch_size, step_size, include_last)
    return torch.cat(features), torch.cat(labels).numpy().astype(np.int64), grid


def evaluate(
    model,
    train_loader: DataLoader,
    test_loader: DataLoader,
    patch_size: int,
    step_size: int,
    scorings=SCORINGS,
    k: int = 1,
    bank_path=None,
    chunk_size: int = 64,
    include_last: bool = False,
    progress: bool = True,
    heldout_loader: DataLoader | None = None,
) -> Evaluation:
    """Score every test image against the training bank; one ROC report per scoring.

    ``bank_path`` puts the bank on disk (float16 ``.npy``); without it the bank is in memory.
    ``heldout_loader``: normal images kept out of training and of the bank; they are scored with
    both scorings into ``heldout_scores``, for thresholds without labels (``anomaly_lib.calibration``).
    """
    unknown = set(scorings) - set(SCORINGS)
    if unknown or not scorings:
        raise ValueError(f"scorings must be taken from {SCORINGS}, got {list(scorings)}")
    model = fold_batchnorm(model)  # an eval-mode copy with faster, identical features
    bank = build_feature_bank(model, train_loader, patch_size, step_size, path=bank_path,
                              chunk_size=chunk_size, include_last=include_last, progress=progress)
    test, labels, grid = extract_test_features(model, test_loader, patch_size, step_size,
                                               chunk_size, include_last, progress)
    device = next(model.parameters()).device
    evaluation = score_test_features(bank, test, labels, grid, scorings, k, device)
    if heldout_loader is not None:
        heldout, _, _ = extract_test_features(model, heldout_loader, patch_size, step_size, chunk_size,
                                              include_last, progress)
        evaluation.heldout_scores = {
            "reference": score_reference(bank, heldout, device=device).image_scores.tolist(),
            "patch_knn": score_patch_knn(bank, heldout, k=k, device=device).image_scores.tolist(),
        }
    return evaluation


def score_test_features(bank: FeatureBank, test: torch.Tensor, labels: np.ndarray, grid: WindowGrid,
                        scorings=SCORINGS, k: int = 1, device=None) -> Evaluation:
    """Both scorings (or some) for precomputed test features (M, channels, positions)."""
    scores, reports, patch_maps = {}, {}, None
    for name in scorings:
        if name == "reference":
            image_scores = score_reference(bank, test, device=device).image_scores
        else:
            result = score_patch_knn(bank, test, k=k, grid=grid, device=device)
            image_scores, patch_maps = result.image_scores, result.patch_maps
        scores[name] = image_scores.numpy()
        reports[name] = roc_report(labels, scores[name])
    return Evaluation(labels, scores, reports, grid, patch_maps)
