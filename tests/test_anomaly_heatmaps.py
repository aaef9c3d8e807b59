import numpy as np
import pytest
import torch

from anomaly_lib.heatmaps import jet_heatmap, normalize_map, overlay_heatmap, to_uint8_gray


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
