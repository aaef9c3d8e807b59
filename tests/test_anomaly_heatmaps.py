import numpy as np
import pytest
import torch

from anomaly_lib.heatmaps import (
    HeatScale,
    jet_colours,
    jet_heatmap,
    normalize_map,
    overlay_heatmap,
    shared_scale,
    to_uint8_gray,
)


def test_normalize_map_scales_to_unit_range():
    anomaly_map = np.array([[2.0, 4.0], [6.0, 10.0]])
    normalized = normalize_map(anomaly_map)
    assert normalized.dtype == np.float32
    np.testing.assert_allclose(normalized, [[0.0, 0.25], [0.5, 1.0]])


def test_normalize_map_of_constant_map_is_zeros():
    np.testing.assert_array_equal(normalize_map(np.full((3, 4), 7.0)), np.zeros((3, 4)))


def test_normalize_map_accepts_torch_and_squeezes():
    anomaly_map = torch.arange(6.0, requires_grad=True).reshape(1, 1, 2, 3) * 1
    normalized = normalize_map(anomaly_map)
    assert normalized.shape == (2, 3)
    assert normalized[0, 0] == 0.0 and normalized[1, 2] == 1.0


def test_normalize_map_rejects_a_batch():
    with pytest.raises(ValueError, match=r"single 2-D map .* \(2, 3, 3\)"):
        normalize_map(np.zeros((2, 3, 3)))


def test_jet_heatmap_is_rgb_blue_for_low_and_red_for_high():
    anomaly_map = np.zeros((5, 6), np.float32)
    anomaly_map[4, 5] = 3.0
    heatmap = jet_heatmap(anomaly_map)
    assert heatmap.shape == (5, 6, 3) and heatmap.dtype == np.uint8
    red, _, blue = heatmap[0, 0]
    assert blue > 100 and red == 0  # low -> dark blue, in RGB order
    red, _, blue = heatmap[4, 5]
    assert red > 100 and blue == 0  # high -> dark red


def test_to_uint8_gray_maps_value_range():
    image = np.array([[[-1.0, 0.0, 1.0, 3.0]]])  # (1, 1, 4), one value out of range
    np.testing.assert_array_equal(to_uint8_gray(image), [[0, 128, 255, 255]])
    np.testing.assert_array_equal(
        to_uint8_gray(np.array([[0.0, 0.5, 1.0]]), (0, 1)), [[0, 128, 255]]
    )


def test_to_uint8_gray_keeps_uint8():
    image = np.arange(12, dtype=np.uint8).reshape(1, 3, 4)
    np.testing.assert_array_equal(to_uint8_gray(image), image[0])


def test_overlay_resizes_coarse_map_to_image_size():
    image = np.zeros((16, 12), np.float32)  # value 0 -> grey 128 in range (-1, 1)
    coarse_map = np.array([[0.0, 0.0], [0.0, 1.0]])  # hot bottom-right patch
    overlay = overlay_heatmap(image, coarse_map, alpha=0.5)
    assert overlay.shape == (16, 12, 3) and overlay.dtype == np.uint8
    assert overlay[15, 11, 0] > overlay[0, 0, 0]  # redder at the bottom right
    assert overlay[0, 0, 2] > overlay[15, 11, 2]  # bluer at the top left


def test_overlay_alpha_weights_image_and_heatmap():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (8, 8), dtype=np.uint8)
    anomaly_map = rng.random((8, 8))
    np.testing.assert_array_equal(overlay_heatmap(image, anomaly_map, alpha=0.0)[..., 1], image)
    np.testing.assert_array_equal(
        overlay_heatmap(image, anomaly_map, alpha=1.0), jet_heatmap(anomaly_map)
    )


def test_singleton_dims_are_dropped_but_thin_images_stay_2d():
    assert normalize_map(np.zeros((5, 6, 1))).shape == (5, 6)
    assert normalize_map(np.zeros((1, 1, 1, 6))).shape == (1, 6)


# ---------------------------------------------------------------------------- one shared colour scale


def test_a_shared_scale_gives_different_scores_different_heat_where_own_range_does_not():
    rng = np.random.default_rng(0)
    pattern = rng.random((8, 8))
    normal, lesion = 0.01 + 0.01 * pattern, 0.05 + 0.05 * pattern  # the same shape, 5× the level
    # each map scaled to its own range: the normal image looks exactly as hot as the lesion
    np.testing.assert_array_equal(jet_heatmap(normal), jet_heatmap(lesion))
    scale = HeatScale.around(0.03)  # one scale, threshold 0.03
    cool, hot = jet_heatmap(normal, scale), jet_heatmap(lesion, scale)
    assert (cool[..., 2].astype(int) - cool[..., 0]).min() > 0  # every normal pixel bluer than red
    assert (hot[..., 0].astype(int) - hot[..., 2]).min() > 0  # every lesion pixel redder than blue


def test_a_map_at_the_threshold_gets_the_anchor_colour():
    threshold = 0.0234
    scale = HeatScale.around(threshold)
    assert (scale.low, scale.anchor, scale.high) == (0.0, threshold, 2 * threshold)
    assert scale.unit(np.array([0.0, threshold, 2 * threshold, 9.0])).tolist() == [0.0, 0.5, 1.0, 1.0]
    heat = jet_heatmap(np.full((3, 4), threshold), scale)
    anchor_colour = jet_colours()[128]  # the middle of the colour map
    assert (heat == anchor_colour).all()
    assert anchor_colour[1] > 200 and anchor_colour[1] > anchor_colour[0]  # green


def test_shared_scale_without_a_threshold_spans_zero_to_the_largest_value():
    scale = shared_scale(None, largest=4.0)
    assert (scale.low, scale.high, scale.anchor) == (0.0, 4.0, None)
    assert shared_scale(0.0, largest=4.0).anchor is None  # a threshold of 0 cannot sit in the middle
    assert shared_scale(1.5, largest=4.0).high == 3.0  # anchored: 2 × threshold, whatever the maps hold
    with pytest.raises(ValueError, match="cannot anchor a colour scale at threshold -1"):
        HeatScale.around(-1.0)


def test_pixels_without_a_value_stay_uncoloured_in_the_overlay():
    image = np.full((6, 6), 100, np.uint8)
    anomaly_map = np.ones((6, 6), np.float32)
    anomaly_map[:, 4:] = np.nan  # e.g. a border no window covers
    overlay = overlay_heatmap(image, anomaly_map, scale=HeatScale.around(0.5))
    assert (overlay[:, 4:] == 100).all()  # the plain grey image
    assert (overlay[:, :4, 0] > overlay[:, :4, 2]).all()  # coloured (red: twice the threshold)
    assert np.isnan(normalize_map(anomaly_map)[:, 4:]).all() and normalize_map(anomaly_map)[0, 0] == 0


def test_a_marked_scale_reaches_the_largest_value_and_calls_its_threshold_an_image_cutoff():
    scale = shared_scale(0.03, largest=0.3, centre=False)  # SAGAN: lesions at 10× the threshold
    assert (scale.low, scale.anchor, scale.high) == (0.0, 0.03, 0.3)
    assert not scale.centred and "image cutoff 0.03 applies to each map's mean" in scale.describe()
    lung, lesion = jet_heatmap(np.full((2, 2), 0.07), scale), jet_heatmap(np.full((2, 2), 0.3), scale)
    assert lung[0, 0, 2] > lung[0, 0, 0] and lesion[0, 0, 0] > lesion[0, 0, 2]  # twice the cutoff stays blue-ish
    assert shared_scale(0.03, largest=0.04, centre=False).high == pytest.approx(0.06)  # never below 2 × threshold
    assert HeatScale.around(0.03).centred and "in the middle" in HeatScale.around(0.03).describe()
    with pytest.raises(ValueError, match="cannot mark threshold 0"):
        HeatScale.marked(0.0, 1.0)
