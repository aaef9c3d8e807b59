"""Pixel AUROC, AUPRO and the paired AUC interval against cases worked out by hand."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from anomaly_lib.metrics import aupro, lesion_regions, paired_auc_difference, pixel_auroc

# One image of 1 x 10 pixels. Region A = pixels 0-1, region B = pixel 4; 7 normal pixels.
MASK = np.array([[1, 1, 0, 0, 1, 0, 0, 0, 0, 0]], bool)
MAP = np.array([[0.9, 0.9, 0.8, 0.4, 0.5, 0.3, 0.2, 0.1, 0.05, 0.0]])


def test_pixel_auroc_counts_ordered_pixel_pairs():
    # A's two pixels beat all 7 normal pixels, B's beats 6 of them (not 0.8): 20 of 21 pairs
    assert pixel_auroc(MAP, MASK) == pytest.approx(20 / 21)
    assert pixel_auroc(MAP, MASK) == pytest.approx(roc_auc_score(MASK.ravel(), MAP.ravel()))


def test_aupro_by_hand():
    # PRO against FPR: (0, 0) -> t = 0.9: A found, B not: (0, 0.5) -> t = 0.8: (1/7, 0.5)
    # -> t = 0.5: B found too: (1/7, 1) -> flat at 1 until FPR 0.3.
    area = 0.5 * (1 / 7) + 1.0 * (0.3 - 1 / 7)
    assert aupro(MAP, MASK) == pytest.approx(area / 0.3)


def test_aupro_weighs_regions_not_pixels():
    # a large region found first and a one-pixel region found last: the pixel rate would be
    # 9/10 at FPR 0, the mean region overlap only 1/2
    mask = np.zeros((1, 6, 6), bool)
    mask[0, :3, :3] = True  # 9 pixels
    mask[0, 5, 5] = True  # 1 pixel, not touching the first
    anomaly_map = np.zeros((1, 6, 6))
    anomaly_map[0, :3, :3] = 1.0
    anomaly_map[0, 5, 5] = 0.2  # below the normal pixel at 0.5, above the rest
    anomaly_map[0, 0, 5] = 0.5
    # normal pixels: 26; at t = 1: (0, 0.5); t = 0.5: (1/26, 0.5); t = 0.2: (1/26, 1)
    expected = (0.5 * (1 / 26) + (0.3 - 1 / 26)) / 0.3
    assert aupro(anomaly_map, mask) == pytest.approx(expected)


def test_perfect_and_inverted_maps():
    rng = np.random.default_rng(0)
    masks = np.zeros((3, 8, 8), bool)
    masks[0, 2:4, 2:5] = True
    masks[1, 6:, 6:] = True  # image 2 is normal: all its pixels are negatives
    noise = rng.uniform(0, 0.5, masks.shape)
    assert aupro(noise + masks, masks) == pytest.approx(1.0)
    assert pixel_auroc(noise + masks, masks) == pytest.approx(1.0)
    assert aupro(noise - masks, masks) == pytest.approx(0.0)


def test_regions_are_eight_connected_and_never_span_images():
    masks = np.zeros((2, 4, 4), bool)
    masks[0, 0, 0] = masks[0, 1, 1] = True  # diagonal neighbours: one region
    masks[0, 3, 3] = True  # a second region
    masks[1, 0, 0] = True  # same pixel in the next image: a third region
    sizes = sorted(len(region) for region in lesion_regions(masks))
    assert sizes == [1, 1, 2]


def test_maps_and_masks_must_match():
    with pytest.raises(ValueError, match="one shape"):
        aupro(np.zeros((2, 4, 4)), np.zeros((2, 4, 5), bool))
    with pytest.raises(ValueError, match="no lesion"):
        pixel_auroc(np.zeros((1, 4, 4)), np.zeros((1, 4, 4), bool))
    with pytest.raises(ValueError, match="NaN"):
        aupro(np.full((1, 2, 2), np.nan), np.eye(2, dtype=bool)[None])


LABELS = np.array([0, 0, 0, 1, 1, 1])


def test_paired_difference_of_identical_methods_is_exactly_zero():
    scores = np.array([0.1, 0.4, 0.35, 0.8, 0.3, 0.9])
    result = paired_auc_difference(LABELS, scores, scores, draws=500)
    assert (result.difference, result.low, result.high) == (0.0, 0.0, 0.0)
    assert not result.excludes_zero()


def test_paired_difference_point_estimate_and_interval():
    perfect = np.array([0, 1, 2, 3, 4, 5], float)
    # one normal (index 2, 0.6) beats two abnormals: 7 of 9 pairs right
    weaker = np.array([0.1, 0.2, 0.6, 0.5, 0.55, 0.9])
    result = paired_auc_difference(LABELS, perfect, weaker, draws=2000)
    assert result.difference == pytest.approx(1 - 7 / 9)
    assert result.low <= result.difference <= result.high
    assert result.low >= 0  # the perfect method is never worse on any draw
    assert result.level == 0.95


def test_paired_difference_averages_seeds_and_resamples_them():
    weak = np.array([[0.1, 0.2, 0.6, 0.5, 0.55, 0.9],  # AUC 7/9
                     [0.1, 0.2, 0.3, 0.5, 0.55, 0.9]])  # AUC 1
    constant = np.zeros(6)  # AUC 1/2 (all ties)
    result = paired_auc_difference(LABELS, weak, constant, draws=1000)
    assert result.difference == pytest.approx((7 / 9 + 1) / 2 - 0.5)
    # the perfect seed alone is perfect on every draw: no spread at all
    single = paired_auc_difference(LABELS, weak[1], constant, draws=1000)
    assert (single.low, single.high) == (0.5, 0.5)
    # with both seeds, draws that pick the weaker seed twice pull the interval down
    assert result.low < single.low


def test_paired_difference_rejects_misaligned_scores():
    with pytest.raises(ValueError, match="scores_b must be"):
        paired_auc_difference(LABELS, np.zeros(6), np.zeros(5))


def test_a_draws_auc_is_sklearns_auc_on_the_resampled_images():
    from anomaly_lib.metrics import _weighted_aucs

    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(30), np.ones(20)]
    scores = np.round(rng.normal(size=50) + labels, 1)  # rounded: ties between the classes
    positive_counts = rng.multinomial(20, np.full(20, 1 / 20), size=5).astype(float)  # (draws, n_pos)
    negative_counts = rng.multinomial(30, np.full(30, 1 / 30), size=5).astype(float)
    aucs = _weighted_aucs(scores[labels == 1], scores[labels == 0], positive_counts, negative_counts)
    for draw in range(5):
        resampled = np.r_[np.repeat(scores[labels == 0], negative_counts[draw].astype(int)),
                          np.repeat(scores[labels == 1], positive_counts[draw].astype(int))]
        assert aucs[draw] == pytest.approx(roc_auc_score(np.sort(labels), resampled))
