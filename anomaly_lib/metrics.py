"""Evaluation: image-level AUC, AP and operating points; pixel AUROC and AUPRO; paired AUC intervals.

Every detector in the kit ends with one anomaly score per image (higher = more
abnormal). This module turns (labels, scores) into the numbers a paper reports.
Convention, as in sklearn's ``roc_curve``: an image is *predicted abnormal* when
``score >= threshold``. Detectors that also make an anomaly map (one score per pixel)
are judged on *where* they fire with ``pixel_auroc`` and ``aupro`` against lesion masks.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    f1_score,
    roc_auc_score,
    roc_curve,
)
from sklearn.metrics import auc as area_under_curve


@dataclass
class OperatingPoint:
    """How a detector performs when its scores are cut at one threshold."""

    threshold: float
    sensitivity: float  # TP / (TP + FN): abnormal images caught
    specificity: float  # TN / (TN + FP): normal images let through
    accuracy: float
    f1: float
    confusion: np.ndarray  # (2, 2): rows = true [normal, abnormal], cols = predicted

    def as_dict(self) -> dict:
        """Plain python types, ready for ``json.dump``."""
        return {
            "threshold": float(self.threshold),
            "sensitivity": float(self.sensitivity),
            "specificity": float(self.specificity),
            "accuracy": float(self.accuracy),
            "f1": float(self.f1),
            "confusion": self.confusion.tolist(),
        }


@dataclass
class RocReport:
    """Threshold-free scores (AUC, AP) plus two threshold choices read off the ROC curve."""

    auc: float
    ap: float
    authors_cutoff: OperatingPoint
    youden: OperatingPoint
    n_normal: int
    n_abnormal: int
    warnings: list[str] = field(default_factory=list)  # e.g. every score equal

    def as_dict(self) -> dict:
        """Plain python types, ready for ``json.dump``."""
        return {
            "auc": float(self.auc),
            "ap": float(self.ap),
            "authors_cutoff": self.authors_cutoff.as_dict(),
            "youden": self.youden.as_dict(),
            "n_normal": int(self.n_normal),
            "n_abnormal": int(self.n_abnormal),
            "warnings": list(self.warnings),
        }

    def __str__(self) -> str:
        def describe(point: OperatingPoint) -> str:
            return (
                f"threshold {point.threshold:.4g}: "
                f"sensitivity {point.sensitivity:.3f}, specificity {point.specificity:.3f}"
            )

        return "\n".join(
            [
                f"AUC {self.auc:.4f} | AP {self.ap:.4f} "
                f"({self.n_normal} normal, {self.n_abnormal} abnormal)",
                f"  authors' cutoff (sens = spec): {describe(self.authors_cutoff)}",
                f"  Youden's J (max sens + spec):  {describe(self.youden)}",
                *(f"  WARNING: {text}" for text in self.warnings),
            ]
        )


def _check_labels_and_scores(labels, scores, caller: str) -> tuple[np.ndarray, np.ndarray]:
    """Return labels as int 0/1 and scores as float, or raise ValueError saying what is wrong."""
    labels = np.asarray(labels).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if len(labels) == 0 or len(scores) == 0:
        raise ValueError(
            f"{caller} got empty input: labels has {len(labels)} entries, scores has {len(scores)}"
        )
    if len(labels) != len(scores):
        raise ValueError(f"labels has {len(labels)} entries but scores has {len(scores)}")
    if not np.isin(labels, [0, 1]).all():
        unexpected = np.unique(labels[~np.isin(labels, [0, 1])])[:5].tolist()
        raise ValueError(f"labels must be 0 (normal) or 1 (abnormal); found {unexpected}")
    bad_scores = np.flatnonzero(~np.isfinite(scores))
    if len(bad_scores) > 0:
        raise ValueError(
            f"scores contain {len(bad_scores)} non-finite values (NaN/inf) "
            f"at indices {bad_scores[:10].tolist()}"
        )
    labels = labels.astype(np.int64)
    present = np.unique(labels)
    if len(present) < 2:
        raise ValueError(f"{caller} needs both classes; labels contain only {present[0]}")
    return labels, scores


def operating_point(labels, scores, threshold: float) -> OperatingPoint:
    """Sensitivity, specificity, accuracy, F1 and confusion matrix at one threshold."""
    labels, scores = _check_labels_and_scores(labels, scores, "operating_point")
    predicted = (scores >= threshold).astype(np.int64)
    confusion = confusion_matrix(labels, predicted, labels=[0, 1])  # [[TN, FP], [FN, TP]]
    (true_neg, false_pos), (false_neg, true_pos) = confusion
    return OperatingPoint(
        threshold=float(threshold),
        sensitivity=float(true_pos / (true_pos + false_neg)),
        specificity=float(true_neg / (true_neg + false_pos)),
        accuracy=float(accuracy_score(labels, predicted)),
        f1=float(f1_score(labels, predicted, zero_division=0)),
        confusion=confusion,
    )


def roc_report(labels, scores) -> RocReport:
    """AUC, AP and two operating points chosen on the ROC curve.

    * ``authors_cutoff``: the threshold where sensitivity and specificity are
      closest to equal (``tpr - (1 - fpr)`` nearest 0). This is the cutoff the
      SAGAN/SWSSL papers use to report sensitivity and specificity.
    * ``youden``: the threshold maximising Youden's J = ``tpr - fpr``, i.e. the
      largest *sum* of sensitivity and specificity, even if one is much larger
      than the other.

    The two often coincide, but not always: Youden may buy a lot of
    specificity for a little sensitivity, where the authors' cutoff insists on
    balance. Every threshold of the curve is considered
    (``drop_intermediate=False``), and the leading ``+inf`` row of sklearn's
    curve (predict nothing abnormal) is never chosen.

    When every score is the same the numbers mean nothing (AUC 0.5 by ties alone): a warning
    is issued and kept in ``warnings``, which the printed report shows.
    """
    labels, scores = _check_labels_and_scores(labels, scores, "roc_report")
    fpr, tpr, thresholds = roc_curve(labels, scores, drop_intermediate=False)
    finite = np.isfinite(thresholds)  # sklearn's first threshold is +inf
    fpr, tpr, thresholds = fpr[finite], tpr[finite], thresholds[finite]

    notes = []
    if np.all(scores == scores[0]):
        notes.append(
            f"all {len(scores)} scores are equal ({scores[0]:.6g}), so AUC and AP say nothing: "
            "the model cannot tell these images apart (constant or blank images? an untrained model?)"
        )
        warnings.warn(notes[-1], stacklevel=2)
    balanced_row = np.argmin(np.abs(tpr - (1 - fpr)))
    youden_row = np.argmax(tpr - fpr)
    return RocReport(
        auc=float(roc_auc_score(labels, scores)),
        ap=float(average_precision_score(labels, scores)),
        authors_cutoff=operating_point(labels, scores, float(thresholds[balanced_row])),
        youden=operating_point(labels, scores, float(thresholds[youden_row])),
        n_normal=int((labels == 0).sum()),
        n_abnormal=int((labels == 1).sum()),
        warnings=notes,
    )


# ---------------------------------------------------------------------------- localisation

PRO_MAX_FPR = 0.3  # AUPRO integrates the PRO curve up to this pixel false-positive rate


def _check_maps_and_masks(maps, masks, caller: str) -> tuple[np.ndarray, np.ndarray]:
    """Maps as float (N, H, W) and masks as bool (N, H, W), or a ValueError naming the problem."""
    maps = np.asarray(maps, dtype=np.float64)
    masks = np.asarray(masks)
    if maps.ndim == 2:
        maps, masks = maps[None], masks[None]  # one image: (1, H, W)
    if maps.ndim != 3 or maps.shape != masks.shape:
        raise ValueError(f"{caller} needs anomaly maps and masks of one shape (N, H, W); got "
                         f"{maps.shape} and {masks.shape}")
    if not np.isfinite(maps).all():
        raise ValueError(f"{caller}: the anomaly maps hold {int((~np.isfinite(maps)).sum())} NaN/inf values")
    masks = masks.astype(bool)
    if masks.all() or not masks.any():
        raise ValueError(f"{caller} needs lesion pixels and normal pixels; the masks hold "
                         f"{'only lesion' if masks.all() else 'no lesion'} pixels")
    return maps, masks


def pixel_auroc(maps, masks) -> float:
    """Pixel-level AUROC: every pixel of every image is one sample, lesion pixels are positives.

    ``maps`` (N, H, W): higher = more abnormal; ``masks`` (N, H, W): True on lesions. Normal
    test images count too: all their pixels are negatives.
    """
    maps, masks = _check_maps_and_masks(maps, masks, "pixel_auroc")
    return float(roc_auc_score(masks.ravel(), maps.ravel()))


def lesion_regions(masks) -> list[np.ndarray]:
    """The connected lesion regions of every mask (8-connected), each as flat pixel indices into
    ``masks.ravel()``. A region never spans two images."""
    masks = np.asarray(masks, dtype=bool)
    if masks.ndim == 2:
        masks = masks[None]
    eight_neighbours = np.zeros((3, 3, 3), bool)
    eight_neighbours[1] = True  # connect within an image (middle plane), never across images
    labelled, count = ndimage.label(masks, structure=eight_neighbours)  # (N, H, W) region numbers
    flat = labelled.ravel()
    order = np.argsort(flat, kind="stable")
    starts = np.searchsorted(flat[order], np.arange(1, count + 2))
    return [order[starts[k]:starts[k + 1]] for k in range(count)]


def aupro(maps, masks, max_fpr: float = PRO_MAX_FPR) -> float:
    """Area under the per-region-overlap curve up to ``max_fpr``, divided by ``max_fpr`` (1 = perfect).

    For a threshold t, a lesion region's overlap is the share of its pixels with map ≥ t, and
    PRO(t) is the mean overlap over all regions, so a small lesion weighs as much as a large
    one. The false-positive rate FPR(t) is the share of normal pixels (outside every mask, in
    all images) with map ≥ t. The curve PRO against FPR is integrated (trapezoids) from 0 to
    ``max_fpr``, the last segment cut by linear interpolation, and the area divided by ``max_fpr``
    (Bergmann et al., MVTec AD, 2021).
    """
    maps, masks = _check_maps_and_masks(maps, masks, "aupro")
    if not 0 < max_fpr <= 1:
        raise ValueError(f"max_fpr must lie in (0, 1], got {max_fpr}")
    values = maps.ravel()
    fpr, _, thresholds = roc_curve(masks.ravel(), values, drop_intermediate=False)
    # thresholds fall from +inf: at +inf nothing is flagged (FPR 0, PRO 0)
    regions = [np.sort(values[pixels]) for pixels in lesion_regions(masks)]
    overlap = np.zeros(len(thresholds))
    for region in regions:  # share of the region's pixels at or above each threshold
        overlap += (len(region) - np.searchsorted(region, thresholds, side="left")) / len(region)
    pro = overlap / len(regions)
    inside = np.flatnonzero(fpr <= max_fpr)
    fpr_part, pro_part = fpr[inside], pro[inside]
    last = inside[-1]
    if fpr_part[-1] < max_fpr and last + 1 < len(fpr):  # cut the next segment at max_fpr
        share = (max_fpr - fpr[last]) / (fpr[last + 1] - fpr[last])
        fpr_part = np.append(fpr_part, max_fpr)
        pro_part = np.append(pro_part, pro[last] + share * (pro[last + 1] - pro[last]))
    return float(area_under_curve(fpr_part, pro_part) / max_fpr)  # trapezoids


# ---------------------------------------------------------------------------- paired intervals


@dataclass
class PairedDifference:
    """AUC(a) − AUC(b) on the same test images, with a bootstrap interval."""

    difference: float  # mean AUC over a's seeds − mean AUC over b's seeds
    low: float
    high: float
    level: float  # e.g. 0.95
    draws: int

    def excludes_zero(self) -> bool:
        """True when the interval lies wholly above or wholly below 0."""
        return self.low > 0 or self.high < 0

    def as_dict(self) -> dict:
        return {"difference": self.difference, "low": self.low, "high": self.high, "level": self.level,
                "draws": self.draws}


def _weighted_aucs(positive_scores, negative_scores, positive_counts, negative_counts) -> np.ndarray:
    """The Mann–Whitney AUC of one method on each bootstrap draw: (draws,).

    ``positive_counts`` (draws, n_pos) and ``negative_counts`` (draws, n_neg) say how often each
    image is drawn. For every abnormal image, the drawn normals below it (and half of those tied
    with it) are read off a running sum over the sorted normal scores, so no draw sorts anything.
    """
    order = np.argsort(negative_scores)
    sorted_negatives = negative_scores[order]
    running = np.zeros((len(negative_counts), len(order) + 1))  # (draws, n_neg + 1)
    np.cumsum(negative_counts[:, order], axis=1, out=running[:, 1:])
    below = np.searchsorted(sorted_negatives, positive_scores, side="left")  # (n_pos,) normals strictly below
    up_to = np.searchsorted(sorted_negatives, positive_scores, side="right")  # (n_pos,) normals below or tied
    wins = running[:, below] + 0.5 * (running[:, up_to] - running[:, below])  # (draws, n_pos)
    return (wins * positive_counts).sum(axis=1) / (positive_counts.sum(axis=1) * negative_counts.sum(axis=1))


def paired_auc_difference(labels, scores_a, scores_b, draws: int = 2000, level: float = 0.95,
                          seed: int = 0) -> PairedDifference:
    """Bootstrap interval of AUC(a) − AUC(b) for two methods scored on the same test images.

    ``scores_a``, ``scores_b``: (seeds, images) or (images,), in the order of ``labels``. Each
    draw resamples the test images with replacement within each class (the *same* draw for both
    methods: the pairing), and each method's seeds with replacement (so the interval also holds
    the training's spread); the difference of the seed-averaged AUCs is recorded. The interval
    is the percentile interval of the draws. The AUC of a draw is the Mann–Whitney statistic
    counted with the draw's multiplicities (``_weighted_aucs``).
    """
    labels = np.asarray(labels).ravel()
    runs = []
    for name, scores in (("scores_a", scores_a), ("scores_b", scores_b)):
        scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))  # (seeds, images)
        if scores.ndim != 2 or scores.shape[1] != len(labels):
            raise ValueError(f"{name} must be (seeds, {len(labels)}) or ({len(labels)},); got {scores.shape}")
        for row in scores:
            _check_labels_and_scores(labels, row, "paired_auc_difference")
        runs.append(scores)
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    positive, negative = labels == 1, labels == 0
    n_pos, n_neg = int(positive.sum()), int(negative.sum())
    rng = np.random.default_rng(seed)
    # (draws, n_pos) and (draws, n_neg): how often each image is drawn
    pos_counts = rng.multinomial(n_pos, np.full(n_pos, 1 / n_pos), size=draws).astype(np.float64)
    neg_counts = rng.multinomial(n_neg, np.full(n_neg, 1 / n_neg), size=draws).astype(np.float64)

    def seed_averaged_aucs(scores: np.ndarray) -> tuple[float, np.ndarray]:
        """The AUC on all images, and one per draw, each averaged over (resampled) seeds."""
        full = float(np.mean([roc_auc_score(labels, row) for row in scores]))
        # shape: (seeds, draws): the AUC of each seed on each draw's images
        per_draw = np.stack([_weighted_aucs(row[positive], row[negative], pos_counts, neg_counts)
                             for row in scores])
        picked = rng.integers(len(scores), size=(draws, len(scores)))  # (draws, seeds) resampled seeds
        return full, per_draw[picked, np.arange(draws)[:, None]].mean(axis=1)

    full_a, draws_a = seed_averaged_aucs(runs[0])
    full_b, draws_b = seed_averaged_aucs(runs[1])
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(draws_a - draws_b, [tail, 100 - tail])
    return PairedDifference(full_a - full_b, float(low), float(high), level, draws)
