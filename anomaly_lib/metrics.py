"""Image-level evaluation: AUC, AP and the operating points reported in the papers.

Every detector in the kit ends with one anomaly score per image (higher = more
abnormal). This module turns (labels, scores) into the numbers a paper reports.
Convention, as in sklearn's ``roc_curve``: an image is *predicted abnormal* when
``score >= threshold``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    f1_score,
    roc_auc_score,
    roc_curve,
)


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
