import json

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from anomaly_lib.metrics import operating_point, roc_report

# 5 normal, 5 abnormal. Walking the threshold down:
#   t = 6: sensitivity 4/5, specificity 4/5  -> balanced: the authors' cutoff
#   t = 5: sensitivity 5/5, specificity 4/5  -> largest sum: Youden's J
LABELS = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
SCORES = [1, 2, 3, 4, 8, 5, 6, 7, 9, 10]


def test_auc_and_ap_match_sklearn():
    report = roc_report(LABELS, SCORES)
    assert report.auc == pytest.approx(roc_auc_score(LABELS, SCORES))
    assert report.auc == pytest.approx(
        22 / 25
    )  # 22 of 25 (abnormal, normal) pairs are ordered right
    assert report.ap == pytest.approx(average_precision_score(LABELS, SCORES))
    assert (report.n_normal, report.n_abnormal) == (5, 5)


def test_authors_cutoff_and_youden_differ_on_hand_made_example():
    report = roc_report(LABELS, SCORES)

    assert report.authors_cutoff.threshold == 6.0
    assert report.authors_cutoff.sensitivity == pytest.approx(0.8)
    assert report.authors_cutoff.specificity == pytest.approx(0.8)
    np.testing.assert_array_equal(report.authors_cutoff.confusion, [[4, 1], [1, 4]])

    assert report.youden.threshold == 5.0
    assert report.youden.sensitivity == pytest.approx(1.0)
    assert report.youden.specificity == pytest.approx(0.8)
    np.testing.assert_array_equal(report.youden.confusion, [[4, 1], [0, 5]])


def test_operating_point_counts_score_equal_to_threshold_as_abnormal():
    point = operating_point(LABELS, SCORES, threshold=8)
    # predicted abnormal: 8 (a normal), 9, 10
    np.testing.assert_array_equal(point.confusion, [[4, 1], [3, 2]])
    assert point.sensitivity == pytest.approx(2 / 5)
    assert point.specificity == pytest.approx(4 / 5)
    assert point.accuracy == pytest.approx(6 / 10)
    assert point.f1 == pytest.approx(2 * 2 / (2 * 2 + 1 + 3))


def test_thresholds_are_finite_even_when_perfectly_separated():
    report = roc_report([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    assert report.auc == 1.0
    assert np.isfinite(report.authors_cutoff.threshold)
    assert report.youden.threshold == 0.8
    assert report.youden.sensitivity == report.youden.specificity == 1.0


def test_as_dict_is_plain_json_and_str_summarises():
    report = roc_report(np.array(LABELS), np.array(SCORES, dtype=np.float32))
    as_dict = report.as_dict()
    assert json.loads(json.dumps(as_dict)) == as_dict
    assert as_dict["youden"]["confusion"] == [[4, 1], [0, 5]]
    text = str(report)
    assert "AUC 0.8800" in text
    assert "threshold 6" in text and "threshold 5" in text
    assert "sensitivity 1.000, specificity 0.800" in text


@pytest.mark.parametrize(
    ("labels", "scores", "message"),
    [
        ([1, 1, 1], [0.1, 0.2, 0.3], "needs both classes; labels contain only 1"),
        ([0, 0], [0.1, 0.2], "needs both classes; labels contain only 0"),
        ([0, 1] * 5, [0.5] * 9, "labels has 10 entries but scores has 9"),
        ([], [], "empty"),
        ([0, 1, 2], [0.1, 0.2, 0.3], "labels must be 0"),
        (
            [0, 1, 0, 1, 0, 1, 0, 1],
            [0, 1, 0, np.nan, 0, 1, 0, np.inf],
            r"scores contain 2 non-finite values \(NaN/inf\) at indices \[3, 7\]",
        ),
    ],
)
def test_bad_input_raises_a_specific_value_error(labels, scores, message):
    with pytest.raises(ValueError, match=message):
        roc_report(labels, scores)


def test_operating_point_validates_too():
    with pytest.raises(ValueError, match="labels has 3 entries but scores has 2"):
        operating_point([0, 1, 1], [0.1, 0.2], 0.5)


def test_all_equal_scores_are_flagged_in_the_report_and_as_a_warning():
    with pytest.warns(UserWarning, match="all 10 scores are equal"):
        report = roc_report(LABELS, [0.25] * 10)
    assert report.auc == 0.5 and len(report.warnings) == 1
    assert "WARNING: all 10 scores are equal (0.25)" in str(report)
    assert report.as_dict()["warnings"] == report.warnings
    assert roc_report(LABELS, SCORES).warnings == []  # ties among some scores are fine
