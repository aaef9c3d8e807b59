"""Evaluation: feature bank of the normal training images, test features, scores, ROC.

As the authors: the model is in eval mode, every image is cut into sliding windows, and each
window's feature is the pooled backbone embedding. The test features are held in memory
(float16, M × channels × positions) while the bank is streamed, so the bank is read once.

Under torchrun every process extracts its share of the training images into the one bank on
disk, then extracts and scores its share of the test images (and of the held-out normals)
against the whole bank; the scores are gathered, so every process returns the same evaluation
as one process would. The held-out normals are never part of the bank.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from anomaly_lib import distributed
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
    windows = dict(patch_size=patch_size, step_size=step_size, k=k, chunk_size=chunk_size,
                   include_last=include_last, progress=progress)
    labels, scores, patch_maps, grid = score_loader(model, test_loader, bank, scorings, what="test images", **windows)
    reports = {name: roc_report(labels, scores[name]) for name in scorings}
    evaluation = Evaluation(labels, scores, reports, grid, patch_maps)
    if heldout_loader is not None:
        _, heldout, _, _ = score_loader(model, heldout_loader, bank, SCORINGS, what="held-out normals", **windows)
        evaluation.heldout_scores = {name: heldout[name].tolist() for name in SCORINGS}
    return evaluation


def score_loader(model, loader: DataLoader, bank: FeatureBank, scorings, patch_size: int, step_size: int, k: int = 1,
                 chunk_size: int = 64, include_last: bool = False, progress: bool = True, what: str = "images"):
    """Labels (M,), scores ``{scoring: (M,)}``, patch_knn maps and the window grid of a loader's images.

    Under torchrun each process extracts and scores its share of the images (every process all
    of them when there are fewer images than processes), and every process returns them all.
    """
    shared = len(loader.dataset) >= distributed.world_size() > 1
    mine = distributed.my_share_of(loader, what) if shared else loader
    device = next(model.parameters()).device
    with distributed.together():  # features a process cannot store (check_storable) stop every process
        features, labels, grid = extract_test_features(model, mine, patch_size, step_size, chunk_size, include_last,
                                                       progress and distributed.is_main())
        scores, patch_maps = scores_per_image(bank, features, grid, scorings, k, device)
    if shared:
        shares = distributed.gather_objects((labels, scores, patch_maps))
        labels = np.concatenate([share[0] for share in shares])  # every process's, in image order
        scores = {name: np.concatenate([share[1][name] for share in shares]) for name in scorings}
        patch_maps = None if patch_maps is None else torch.cat([share[2] for share in shares])
    return labels, scores, patch_maps, grid


def scores_per_image(bank: FeatureBank, test: torch.Tensor, grid: WindowGrid, scorings=SCORINGS,
                     k: int = 1, device=None) -> tuple[dict[str, np.ndarray], torch.Tensor | None]:
    """Image scores under each scoring, ``{scoring: (M,)}``, and the patch maps of ``patch_knn``."""
    scores, patch_maps = {}, None
    for name in scorings:
        if name == "reference":
            image_scores = score_reference(bank, test, device=device).image_scores
        else:
            result = score_patch_knn(bank, test, k=k, grid=grid, device=device)
            image_scores, patch_maps = result.image_scores, result.patch_maps
        scores[name] = image_scores.numpy()
    return scores, patch_maps
