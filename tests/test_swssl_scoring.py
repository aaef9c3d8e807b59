"""The authors' scoring against their numbers, patch k-NN maps, and the streamed float16 bank."""

from pathlib import Path

import numpy as np
import pytest
import torch

from swssl_lib.bank import FeatureBank
from swssl_lib.scoring import patch_map_to_pixels, score_patch_knn, score_reference
from swssl_lib.sliding import WindowGrid

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def scoring():
    return torch.load(FIXTURES / "swssl_small.pt", weights_only=True)["scoring"]


def disk_bank(features, path, dtype=np.float32, images_per_append=2):
    bank = FeatureBank(len(features), features.shape[1], features.shape[2], path=path, dtype=dtype)
    for part in torch.split(features, images_per_append):
        bank.append(part)
    return bank


@pytest.mark.parametrize("chunk_images", [1, 2, 5])
def test_reference_matches_the_authors(scoring, chunk_images):
    result = score_reference(scoring["bank"], scoring["test"], chunk_images=chunk_images)
    torch.testing.assert_close(result.channel_scores[0], scoring["reference_channel_scores"],
                               atol=1e-5, rtol=0)
    assert result.image_scores.item() == pytest.approx(scoring["reference_image_score"], abs=1e-5)


def test_reference_from_a_disk_bank(scoring, tmp_path):
    bank = disk_bank(scoring["bank"], tmp_path / "bank.npy")
    result = score_reference(bank, scoring["test"], chunk_images=2)
    assert result.image_scores.item() == pytest.approx(scoring["reference_image_score"], abs=1e-5)
    reopened = FeatureBank.open(tmp_path / "bank.npy")
    assert reopened.shape == (5, 8, 9)
    np.testing.assert_array_equal(reopened.array, scoring["bank"].numpy())
    assert isinstance(reopened.array, np.memmap)


def test_float16_bank_is_close(scoring, tmp_path):
    bank = disk_bank(scoring["bank"], tmp_path / "bank16.npy", dtype=np.float16)
    assert bank.nbytes == 5 * 8 * 9 * 2
    result = score_reference(bank, scoring["test"])
    assert result.image_scores.item() == pytest.approx(scoring["reference_image_score"], rel=2e-3)


def brute_force_knn(bank, test, k):
    # distances[m, n, p] = ‖bank[n, :, p] − test[m, :, p]‖ over channels
    distances = (bank[None] - test[:, None]).pow(2).sum(dim=2).sqrt()
    return distances.sort(dim=1).values[:, :k].mean(dim=1)  # (M, P)


@pytest.mark.parametrize("k", [1, 3])
def test_patch_knn_map_shape_and_values(k, tmp_path):
    generator = torch.Generator().manual_seed(0)
    bank = torch.randn(7, 16, 12, generator=generator)  # 7 images, 16 channels, 3 × 4 positions
    test = torch.randn(2, 16, 12, generator=generator)
    grid = WindowGrid(height=40, width=48, patch_size=16, step_size=8)
    assert grid.shape == (3, 4)
    result = score_patch_knn(disk_bank(bank, tmp_path / "b.npy", images_per_append=3), test,
                             k=k, grid=grid, chunk_images=2)
    assert result.patch_maps.shape == (2, 3, 4)  # (M, rows, cols)
    expected = brute_force_knn(bank, test, k)
    torch.testing.assert_close(result.patch_maps.flatten(1), expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(result.image_scores, expected.amax(dim=1), atol=1e-5, rtol=1e-5)


def test_patch_knn_finds_the_odd_position():
    bank = torch.zeros(4, 8, 6)
    test = torch.zeros(8, 6)
    test[:, 4] = 1.0  # one position differs from every training image
    result = score_patch_knn(bank, test)
    assert result.patch_maps.shape == (1, 6)  # without a grid: (M, positions)
    assert result.patch_maps[0].argmax().item() == 4
    assert result.image_scores.item() == pytest.approx(np.sqrt(8))


def test_patch_map_to_pixels_spreads_window_scores():
    grid = WindowGrid(height=40, width=40, patch_size=16, step_size=8)  # 3 × 3 windows
    maps = torch.arange(9, dtype=torch.float32).reshape(1, 3, 3)
    pixels = patch_map_to_pixels(maps, grid)
    assert pixels.shape == (1, 40, 40)
    assert pixels[0, 0, 0] == 0  # only window (0, 0) covers the corner
    assert pixels[0, 10, 10] == pytest.approx((0 + 1 + 3 + 4) / 4)  # four windows overlap here
    assert pixels[0, 30, 30] == pytest.approx(8)  # window (2, 2) alone
    assert np.isnan(pixels[0, 32:, :]).all() and np.isnan(pixels[0, :, 32:]).all()  # uncovered: no value
    assert not np.isnan(pixels[0, :32, :32]).any()
    filled = patch_map_to_pixels(maps, grid, uncovered=-1.0)  # the pixel metrics' choice: the lowest score
    assert (filled[0, 32:, :] == -1).all() and (filled[0, :, 32:] == -1).all()
    np.testing.assert_array_equal(filled[0, :32, :32], pixels[0, :32, :32])


def test_each_pixel_is_the_mean_of_every_window_that_covers_it():
    grid = WindowGrid(height=50, width=44, patch_size=16, step_size=6)  # overlapping windows, ragged borders
    maps = torch.rand(2, grid.rows, grid.cols)
    pixels = patch_map_to_pixels(maps, grid)  # (2, 50, 44)
    total, count = np.zeros((2, 50, 44)), np.zeros((50, 44))
    for position, (top, left) in enumerate(grid.starts()):
        total[:, top:top + 16, left:left + 16] += maps.flatten(1)[:, position, None, None].numpy()
        count[top:top + 16, left:left + 16] += 1
    expected = np.where(count > 0, total / np.maximum(count, 1), np.nan)  # NaN where no window reaches
    np.testing.assert_allclose(pixels, expected, rtol=1e-5, equal_nan=True)


def test_bank_errors(tmp_path):
    bank = FeatureBank(2, 4, 3, path=tmp_path / "bank.npy")
    with pytest.raises(ValueError, match="do not fit"):
        bank.append(torch.zeros(1, 5, 3))
    bank.append(torch.zeros(1, 4, 3))
    with pytest.raises(RuntimeError, match="only filled with 1 of 2"):
        next(bank.chunks())
    with pytest.raises(ValueError, match="cannot add 2 after 1"):
        bank.append(torch.zeros(2, 4, 3))
    np.save(tmp_path / "flat.npy", np.zeros((3, 4)))
    with pytest.raises(ValueError, match="is \\(N, channels, positions\\)"):
        FeatureBank.open(tmp_path / "flat.npy")


def test_scoring_errors(scoring):
    with pytest.raises(ValueError, match="do not match the bank"):
        score_reference(scoring["bank"], scoring["test"][:, :4])
    with pytest.raises(ValueError, match="k must be between 1 and the bank size 5"):
        score_patch_knn(scoring["bank"], scoring["test"], k=6)


def test_test_features_of_an_empty_loader_are_refused():
    from torch.utils.data import DataLoader

    from swssl_lib.evaluate import extract_test_features

    model = torch.nn.Conv2d(3, 4, 3)  # never called: there is nothing to extract
    with pytest.raises(ValueError, match="no test images"):
        extract_test_features(model, DataLoader([]), patch_size=8, step_size=4, progress=False)
