"""The authors' patch sampler: grid, neighbour rule, similarity, and the black-image errors."""

from pathlib import Path

import pytest
import torch

from swssl_lib.sampling import (
    grid_starts,
    neighbour_similarity,
    nonblack_cells,
    sample_patch_pair,
    similarity_table,
)
from swssl_lib.sliding import WindowGrid

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def reference():
    return torch.load(FIXTURES / "swssl_small.pt", weights_only=True)


def test_similarity_table_matches_the_authors(reference):
    expected = {tuple(int(v) for v in key.split(",")): value
                for key, value in reference["neighbour_similarity"].items()}
    assert similarity_table().keys() == expected.keys()
    for (dx, dy), value in expected.items():
        assert similarity_table()[dx, dy] == pytest.approx(value, abs=1e-12)
        assert neighbour_similarity(-dx, dy) == neighbour_similarity(dx, -dy) == pytest.approx(value)


def test_similarity_rejects_far_neighbours():
    with pytest.raises(ValueError, match="±3"):
        neighbour_similarity(4, 0)


def test_grid_skips_the_last_start_like_the_authors(reference):
    for key, count in reference["sliding_positions_per_axis"].items():
        size, patch, step = (int(v) for v in key.split("/"))
        assert grid_starts(size, patch, step) == count
        assert WindowGrid(size, size, patch, step).rows == count
        assert WindowGrid(size, size, patch, step, include_last=True).rows == count + 1
    assert WindowGrid(1024, 768, 128, 32).shape == (28, 20)  # DBT: height 1024, width 768


def test_grid_too_small():
    with pytest.raises(ValueError, match="size ≥ patch \\+ step"):
        grid_starts(40, 32, 16)


def striped_image(size=160):
    """Non-black everywhere except a black band, so black patches exist."""
    image = torch.full((size, size), 120, dtype=torch.uint8)
    image[:, 40:96] = 0
    return image


def test_sampler_rules_hold_for_many_draws():
    image, patch, step = striped_image(), 16, 8
    n = grid_starts(len(image), patch, step)
    generator = torch.Generator().manual_seed(0)
    offsets = set()
    for _ in range(300):
        pair = sample_patch_pair(image, patch, step, generator=generator)
        (row, col), (n_row, n_col) = pair.cell, pair.neighbour
        assert 0 <= min(row, col, n_row, n_col) and max(row, col, n_row, n_col) < n
        assert (row, col) != (n_row, n_col)  # never the patch itself
        assert abs(n_row - row) <= 3 and abs(n_col - col) <= 3
        assert pair.similarity == neighbour_similarity(n_col - col, n_row - row)
        for top, left in (pair.pixel_start(step), pair.neighbour_pixel_start(step)):
            assert image[top : top + patch, left : left + patch].max() > 0  # never black
        offsets.add((n_row - row, n_col - col))
    assert len(offsets) == 48  # every offset in the ±3 box except (0, 0) shows up


def test_sampler_is_reproducible_with_a_generator():
    image = striped_image()
    draws = [[sample_patch_pair(image, 16, 8, generator=torch.Generator().manual_seed(seed))
              for seed in range(5)] for _ in range(2)]
    assert draws[0] == draws[1]
    assert len(set(draws[0])) > 1


def test_nonblack_cells_follow_the_grid():
    image = torch.zeros(64, 64, dtype=torch.uint8)
    image[20, 50] = 1  # inside the windows starting at columns 40 and 48 (patch 16, step 8)
    cells = nonblack_cells(image, 16, 8)
    assert cells.shape == (6, 6)
    assert cells.nonzero().tolist() == [[1, 5], [2, 5]]  # column start 48 is the skipped 7th


def test_black_image_raises_with_its_name():
    with pytest.raises(ValueError, match="scan_0042.png: every 16px grid patch is black"):
        sample_patch_pair(torch.zeros(64, 64, dtype=torch.uint8), 16, 8, name="scan_0042.png")


def test_pixels_only_outside_the_grid_count_as_black():
    image = torch.zeros(64, 64, dtype=torch.uint8)
    image[:, 48:] = 200  # only the last valid start (48) would see them, and it is skipped
    with pytest.raises(ValueError, match="is black"):
        sample_patch_pair(image, 16, 16, name="edge.png")


def test_lonely_patch_without_neighbour_raises():
    image = torch.zeros(128, 128, dtype=torch.uint8)
    image[4:12, 4:12] = 255  # one non-black cell (0, 0) of the 16/16 grid
    with pytest.raises(ValueError, match="lonely.png: the only non-black"):
        sample_patch_pair(image, 16, 16, name="lonely.png")
