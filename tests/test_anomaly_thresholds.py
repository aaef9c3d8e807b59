"""Thresholds without test labels (held-out normal scores), from a test report, or given; held-out splits."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from anomaly_lib.calibration import (
    heldout_count,
    read_calibration,
    stored_heldout_scores,
    update_calibration,
    weights_fingerprint,
)
from anomaly_lib.metrics import roc_report
from anomaly_lib.thresholds import choose_threshold, threshold_at_specificity, threshold_from_report


def flags(**given):
    return SimpleNamespace(**{"threshold": None, "threshold_from": None, "cutoff": None, "specificity": None,
                              **given})


def test_specificity_takes_that_quantile_of_the_heldout_normal_scores():
    scores = np.random.default_rng(0).permutation(np.arange(1.0, 201.0))  # 200 held-out normals, 1 … 200
    threshold = threshold_at_specificity(scores, 0.95, "RUN/calibration.json")
    assert threshold.value == pytest.approx(190.05)  # numpy's linear quantile: 1 + 0.95 · 199
    assert threshold.details["heldout_specificity"] == 190 / 200  # scores 1 … 190 fall below it
    assert threshold.details["n_heldout"] == 200 and "RUN/calibration.json" in threshold.source


def test_a_quantile_of_few_scores_warns_that_it_is_coarse():
    with pytest.warns(UserWarning, match="0.95 quantile of 16 held-out normal scores rests on fewer than 5"):
        threshold_at_specificity(np.arange(16.0), 0.95, "here")


def sagan_report(tmp_path, checkpoint="run/last.ckpt"):
    report = roc_report([0, 0, 0, 1, 1, 1], [0.1, 0.2, 0.35, 0.3, 0.6, 0.7])
    path = tmp_path / "sagan.json"
    path.write_text(json.dumps({"checkpoint": checkpoint, **report.as_dict()}))
    return path, report


@pytest.mark.parametrize("cutoff, key", [("authors", "authors_cutoff"), ("youden", "youden")])
def test_a_sagan_report_gives_either_cutoff(tmp_path, cutoff, key):
    path, report = sagan_report(tmp_path)
    threshold = threshold_from_report(path, cutoff, checkpoint="run/last.ckpt")
    assert threshold.value == getattr(report, key).threshold
    assert threshold.details == {"kind": "report", "report": str(path), "cutoff": cutoff,
                                 "report_checkpoint": "run/last.ckpt"}


def test_a_swssl_report_gives_the_cutoff_of_the_scoring_asked_for(tmp_path):
    reference = roc_report([0, 0, 1, 1], [1.0, 2.0, 3.0, 4.0]).as_dict()
    knn = roc_report([0, 0, 1, 1], [10.0, 30.0, 20.0, 40.0]).as_dict()
    path = tmp_path / "report.json"
    path.write_text(json.dumps({"mode": "test", "checkpoint": "r/last.pt",
                                "results": {"reference": reference, "patch_knn": knn}}))
    assert threshold_from_report(path, "authors", "patch_knn").value == knn["authors_cutoff"]["threshold"]
    assert threshold_from_report(path, "youden", "reference").value == reference["youden"]["threshold"]
    path.write_text(json.dumps({"results": {"reference": reference}}))
    with pytest.raises(ValueError, match="has results for reference, not for patch_knn: test with --scoring"):
        threshold_from_report(path, "authors", "patch_knn")


def test_a_report_from_another_checkpoint_warns(tmp_path):
    path, _ = sagan_report(tmp_path, checkpoint="other_run/last.ckpt")
    with pytest.warns(UserWarning, match="does not carry over to another's"):
        threshold_from_report(path, "authors", checkpoint="run/last.ckpt")


@pytest.mark.parametrize("content, fragment", [
    ('{"auc": 0.9, "youden": {"threshold": 0.3}}', "has no authors_cutoff.threshold for --cutoff authors"),
    ('{"auc": 0.9, "authors_cutoff": {"sensitivity": 0.8}}', "has no authors_cutoff.threshold"),
    ("not json at all", "is not valid JSON"),
    ("[1, 2]", "holds a JSON list, not a test report"),
])
def test_a_report_without_the_cutoff_is_named(tmp_path, content, fragment):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=fragment):
        threshold_from_report(path, "authors")
    with pytest.raises(FileNotFoundError, match="no such file"):
        threshold_from_report(tmp_path / "missing.json", "authors")


def test_choose_threshold_takes_the_one_source_given_and_none_without():
    def heldout():
        return np.arange(100.0), "stored"

    assert choose_threshold(flags(), heldout) is None
    assert choose_threshold(flags(threshold=0.25), heldout).value == 0.25
    assert choose_threshold(flags(specificity=0.9), heldout).value == pytest.approx(np.quantile(np.arange(100.0), 0.9))

    def not_called():
        raise AssertionError("held-out scores are read only for --specificity")

    assert choose_threshold(flags(threshold=1.0), not_called).value == 1.0


def test_held_out_count_is_ten_percent_at_least_8_and_reference_holds_none():
    assert heldout_count(200) == 20 and heldout_count(40) == 8 and heldout_count(40, requested=5) == 5
    assert heldout_count(40, "reference", 5) == 0
    with pytest.raises(ValueError, match="holding out 8 of 9 normal training images leaves fewer than 2"):
        heldout_count(9)
    with pytest.raises(ValueError, match="--holdout must be one of"):
        heldout_count(40, "all")


def test_fingerprints_tell_weights_apart_and_calibration_entries_follow_them(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    fingerprint = weights_fingerprint(model.state_dict())
    copied = {name: value.clone() for name, value in model.state_dict().items()}
    assert weights_fingerprint(copied) == fingerprint
    copied["bias"][0] += 1e-6
    assert weights_fingerprint(copied) != fingerprint

    run = dict(method="m", settings={"size": 8}, heldout_files=[str(tmp_path / "a.png"), str(tmp_path / "b.png")])
    update_calibration(tmp_path, {"checkpoint": "last", "weights": fingerprint, "scores": {"s": [1, 2]}}, **run)
    update_calibration(tmp_path, {"checkpoint": "best", "weights": "other", "scores": {"s": [3, 4]}}, **run)
    update_calibration(tmp_path, {"checkpoint": "last", "weights": "newer", "scores": {"s": [5, 6]}}, **run)
    calibration = read_calibration(tmp_path)
    assert [e["checkpoint"] for e in calibration["heldout_scores"]] == ["best", "last"]  # last replaced
    assert stored_heldout_scores(calibration, "newer", "s") == [5, 6]
    assert stored_heldout_scores(calibration, fingerprint, "s") is None  # those weights are gone
    # another run in the folder (other held-out files): the old entries are dropped
    update_calibration(tmp_path, {"checkpoint": "x", "weights": "w", "scores": {"s": [0]}},
                       **{**run, "heldout_files": [str(tmp_path / "c.png")]})
    assert [e["checkpoint"] for e in read_calibration(tmp_path)["heldout_scores"]] == ["x"]
    assert read_calibration(tmp_path, method="m")["method"] == "m"
    with pytest.raises(ValueError, match=r"calibration.json belongs to a m run, not SWSSL"):
        read_calibration(tmp_path, method="swssl")  # a predict of the other method
