"""Batched sliding-window features agree with the authors' one-position-at-a-time loop."""

import pytest
import torch

from swssl_lib.model import PatchModel, fold_batchnorm
from swssl_lib.sliding import (
    WindowGrid,
    looped_window_features,
    sliding_window_features,
    window_view,
)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    model = PatchModel(backbone="resnet18", pretrained=False)
    model.train()
    model(torch.rand(8, 3, 32, 32))  # one train-mode pass, so BatchNorm statistics are not trivial
    return model.eval()


@pytest.fixture(scope="module")
def images():
    torch.manual_seed(1)
    return torch.rand(2, 3, 80, 64)  # not square: rows and columns must not be swapped


def test_window_grid_positions_are_row_major():
    grid = WindowGrid(80, 64, 32, 16)
    assert grid.shape == (3, 2)  # (80 − 32) // 16 rows, (64 − 32) // 16 columns
    assert grid.starts() == [(0, 0), (0, 16), (16, 0), (16, 16), (32, 0), (32, 16)]


def test_window_view_is_a_view_of_the_right_pixels(images):
    grid = WindowGrid(80, 64, 32, 16)
    windows = window_view(images, grid)
    assert windows.shape == (2, 3, 2, 3, 32, 32)
    assert windows.data_ptr() == images.data_ptr()  # no copy
    torch.testing.assert_close(windows[1, 2, 1], images[1, :, 32:64, 16:48])


@pytest.mark.parametrize("chunk_size, channels_last", [(64, True), (4, False), (1, True)])
def test_batched_equals_looped(model, images, chunk_size, channels_last):
    looped = looped_window_features(model, images, 32, 16)
    batched = sliding_window_features(model, images, 32, 16, chunk_size=chunk_size,
                                      channels_last=channels_last)
    assert batched.shape == looped.shape == (2, 512, 6)  # (N_images, channels, positions)
    assert (batched - looped).abs().max() <= 1e-4


def test_include_last_adds_the_last_start(model, images):
    features = sliding_window_features(model, images, 32, 16, include_last=True)
    assert features.shape == (2, 512, 4 * 3)
    looped = looped_window_features(model, images, 32, 16, include_last=True)
    assert (features - looped).abs().max() <= 1e-4
    last = model.embed(images[:, :, 48:80, 32:64])  # bottom-right window, skipped by default
    assert (features[:, :, -1] - last).abs().max() <= 1e-4


def test_image_order_is_kept(model, images):
    both = sliding_window_features(model, images, 32, 16)
    second = sliding_window_features(model, images[1:], 32, 16)
    assert (both[1] - second[0]).abs().max() <= 1e-4
    assert (both[0] - both[1]).abs().max() > 1e-3


def test_folded_batchnorm_gives_the_same_features(model, images):
    model.train()  # the original must be left as it is
    folded = fold_batchnorm(model)
    assert model.training and not folded.training
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.backbone.modules())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.backbone.modules())
    model.eval()
    expected = sliding_window_features(model, images, 32, 16)
    assert (sliding_window_features(folded, images, 32, 16) - expected).abs().max() <= 1e-4
