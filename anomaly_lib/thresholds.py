"""Decision thresholds for ``--mode predict``: from held-out normal scores, a test report, or a number.

An image is called abnormal when ``score >= threshold`` (the convention of ``anomaly_lib.metrics``).
Three sources, one at a time:

* ``--specificity S``: the S-quantile of the held-out normal scores stored by training
  (``anomaly_lib.calibration``), numpy's default (linear) quantile. About a share S of normal
  images like the held-out ones score below it, so S is the specificity aimed at; no labels
  are used. The specificity it reaches on the held-out images themselves is reported too.
* ``--threshold_from REPORT.json --cutoff authors|youden``: a cutoff that ``--mode test`` chose
  on a labeled test set, read from its JSON report (SAGAN's ``--report_json``, SWSSL's
  ``report.json``): the authors' cutoff (sensitivity = specificity) or Youden's J.
* ``--threshold X``: a number you chose.

With none of them, prediction writes scores only and says so.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .files import regular_file

CUTOFFS = {"authors": "authors_cutoff", "youden": "youden"}  # --cutoff → key in a RocReport dict
FEW_SCORES_ABOVE = 5  # fewer held-out scores expected above the quantile: warn that it is coarse


@dataclass
class Threshold:
    value: float
    source: str  # one line, for the summary
    details: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"value": self.value, "source": self.source, **self.details}


def threshold_at_specificity(normal_scores, specificity: float, where: str) -> Threshold:
    """The ``specificity``-quantile of held-out normal scores (found in ``where``)."""
    scores = np.asarray(normal_scores, dtype=np.float64)
    if scores.size == 0 or not np.isfinite(scores).all():
        raise ValueError(f"the held-out normal scores in {where} are empty or not finite")
    value = float(np.quantile(scores, specificity))
    reached = float((scores < value).mean())
    if scores.size * (1 - specificity) < FEW_SCORES_ABOVE:
        warnings.warn(
            f"the {specificity:g} quantile of {scores.size} held-out normal scores rests on fewer than "
            f"{FEW_SCORES_ABOVE} scores above it, so the threshold is coarse; hold out more normals "
            "(--val_holdout) for a steadier one", stacklevel=2)
    return Threshold(value, f"specificity {specificity:g}: the {specificity:g} quantile of {scores.size} held-out "
                            f"normal scores ({where})",
                     {"kind": "specificity", "specificity": specificity, "n_heldout": int(scores.size),
                      "heldout_specificity": reached, "calibration": where})


def _report_checkpoint(report: dict):
    training = report.get("training")
    return report.get("checkpoint") or (training.get("checkpoint") if isinstance(training, dict) else None)


def threshold_from_report(path, cutoff: str, scoring: str | None = None, checkpoint=None) -> Threshold:
    """The ``cutoff`` ("authors" or "youden") of a ``--mode test`` JSON report.

    SWSSL reports hold one ROC report per scoring under ``results``; ``scoring`` picks one.
    Warns when the report names another checkpoint than ``checkpoint``.
    """
    path = Path(path)
    if cutoff not in CUTOFFS:
        raise ValueError(f"--cutoff must be one of {list(CUTOFFS)}, got {cutoff!r}")
    regular_file(path, "--threshold_from")  # a FIFO would be waited on forever
    if not path.is_file():
        raise FileNotFoundError(f"--threshold_from {path}: no such file")
    try:
        report = json.loads(path.read_text())
    except ValueError as error:
        raise ValueError(f"--threshold_from {path} is not valid JSON ({error})") from None
    if not isinstance(report, dict):
        raise ValueError(f"--threshold_from {path} holds a JSON {type(report).__name__}, not a test report")
    roc = report
    if isinstance(report.get("results"), dict):  # SWSSL: one ROC report per scoring
        if scoring not in report["results"]:
            raise ValueError(f"--threshold_from {path} has results for {', '.join(report['results']) or 'no scoring'}"
                             f", not for {scoring}: test with --scoring {scoring} (or both), or predict with "
                             f"--scoring {next(iter(report['results']), 'reference')}")
        roc = report["results"][scoring]
    key = CUTOFFS[cutoff]
    value = roc.get(key, {}).get("threshold") if isinstance(roc.get(key), dict) else None
    if not isinstance(value, (int, float)) or not np.isfinite(value):
        raise ValueError(f"--threshold_from {path} has no {key}.threshold for --cutoff {cutoff}: give the JSON "
                         "report of --mode test (SAGAN's --report_json, SWSSL's report.json)")
    made_with = _report_checkpoint(report)
    if made_with and checkpoint and Path(made_with).resolve() != Path(checkpoint).resolve():
        warnings.warn(f"--threshold_from {path} was made with {made_with}, but you predict with {checkpoint}: "
                      "a cutoff chosen on one model's scores does not carry over to another's", stacklevel=2)
    where = f"{path}" + (f", {scoring} scoring" if roc is not report else "")
    return Threshold(float(value), f"the {cutoff} cutoff of the test report {where}",
                     {"kind": "report", "report": str(path), "cutoff": cutoff, "report_checkpoint": made_with})


def choose_threshold(args, heldout_scores, scoring: str | None = None, checkpoint=None) -> Threshold | None:
    """The threshold the flags ask for, or None (scores only).

    ``heldout_scores()`` returns ``(scores, where)``; it is called only for ``--specificity``.
    """
    if args.threshold is not None:
        return Threshold(float(args.threshold), "--threshold, given by hand", {"kind": "value"})
    if args.threshold_from:
        return threshold_from_report(args.threshold_from, args.cutoff, scoring, checkpoint)
    if args.specificity is not None:
        scores, where = heldout_scores()
        return threshold_at_specificity(scores, args.specificity, where)
    return None
