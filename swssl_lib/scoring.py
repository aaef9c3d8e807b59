"""Anomaly scores from sliding-window features: the authors' scoring and a patch k-NN scoring.

Both compare the features of test images (M, channels, positions) with the training feature
bank (N, channels, positions), streaming over the bank chunk by chunk.

* ``score_reference`` (the authors): ``d[n, c] = ‖bank[n, c, :] − test[c, :]‖₂`` over the
  *positions* axis, ``s[c] = minₙ d[n, c]``, image score ``max_c s[c]``.
* ``score_patch_knn``: at each window position p, the distance over *channels* to the k nearest
  training features at the same position, ``m[p] = mean of the k smallest ‖bank[n, :, p] −
  test[:, p]‖₂``; image score ``max_p m[p]``. The map m is the patch heatmap.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .bank import FeatureBank
from .sliding import WindowGrid

DIFF_BUDGET = 2**25  # elements (128 MB in float32) per (tests × bank images × C × P) difference


@dataclass
class ReferenceScores:
    image_scores: torch.Tensor  # (M,)
    channel_scores: torch.Tensor  # (M, channels)


@dataclass
class PatchScores:
    image_scores: torch.Tensor  # (M,)
    patch_maps: torch.Tensor  # (M, rows, cols), or (M, positions) without a grid


def _as_bank(bank) -> FeatureBank:
    return bank if isinstance(bank, FeatureBank) else FeatureBank.from_array(bank)


def _stream_distances(bank, test: torch.Tensor, over: str, chunk_images: int, device) -> Iterator[torch.Tensor]:
    """For each bank chunk, distances (M, n, positions or channels) between tests and chunk."""
    bank = _as_bank(bank)
    test = torch.as_tensor(test).to(device)  # kept in its dtype (float16 halves the memory)
    if test.dim() == 2:
        test = test[None]  # (1, C, P)
    if tuple(test.shape[1:]) != tuple(bank.shape[1:]):
        raise ValueError(f"test features {tuple(test.shape)} do not match the bank {bank.shape}")
    reduce_dim = -1 if over == "positions" else -2  # norm over P (reference) or over C (knn)
    per_test = chunk_images * bank.shape[1] * bank.shape[2]
    tests_at_once = max(1, DIFF_BUDGET // per_test)
    for chunk in bank.chunks(chunk_images):
        chunk = chunk.to(device)  # (n, C, P)
        parts = []
        for t in torch.split(test, tests_at_once):
            difference = chunk[None] - t.float()[:, None]  # (m, n, C, P)
            parts.append(torch.linalg.vector_norm(difference, dim=reduce_dim))  # (m, n, C) or (m, n, P)
        yield torch.cat(parts)  # (M, n, C) or (M, n, P)


def score_reference(bank, test: torch.Tensor, chunk_images: int = 16, device=None) -> ReferenceScores:
    """The authors' image score for test features (M, C, P) or (C, P) against the bank.

    ``bank`` is a ``FeatureBank`` or an array (N, C, P).
    """
    best = None  # running minₙ d[n, c]: (M, C)
    for distances in _stream_distances(bank, test, "positions", chunk_images, device):  # (M, n, C)
        chunk_min = distances.amin(dim=1)  # (M, C)
        best = chunk_min if best is None else torch.minimum(best, chunk_min)
    best = best.cpu()
    return ReferenceScores(image_scores=best.amax(dim=1), channel_scores=best)  # (M,), (M, C)


def score_patch_knn(
    bank, test: torch.Tensor, k: int = 1, grid: WindowGrid | None = None, chunk_images: int = 16, device=None
) -> PatchScores:
    """Per-position k-NN distance (over channels) to the bank, and its maximum per image.

    With ``grid`` the maps are shaped (M, rows, cols), ready for a heatmap.
    """
    if k < 1 or k > len(_as_bank(bank)):
        raise ValueError(f"k must be between 1 and the bank size {len(_as_bank(bank))}, got {k}")
    nearest = None  # the k smallest distances so far: (M, P, ≤k)
    for distances in _stream_distances(bank, test, "channels", chunk_images, device):  # (M, n, P)
        candidates = distances.transpose(1, 2)  # (M, P, n)
        if nearest is not None:
            candidates = torch.cat([nearest, candidates], dim=-1)  # (M, P, k + n)
        nearest = candidates.topk(min(k, candidates.shape[-1]), dim=-1, largest=False).values  # (M, P, k)
    patch_maps = nearest.mean(dim=-1).cpu()  # (M, P)
    image_scores = patch_maps.amax(dim=1)  # (M,)
    if grid is not None:
        patch_maps = patch_maps.reshape(len(patch_maps), grid.rows, grid.cols)  # (M, rows, cols)
    return PatchScores(image_scores=image_scores, patch_maps=patch_maps)


def patch_map_to_pixels(patch_maps: torch.Tensor, grid: WindowGrid, uncovered: float = float("nan")) -> np.ndarray:
    """Spread window scores (M, rows, cols) over the pixels they cover → float32 (M, H, W).

    Each pixel gets the mean score of all the (overlapping) windows containing it. Pixels that
    no window covers (the right and bottom borders, where the grid skips the last start, as the
    authors' evaluation does) get ``uncovered``: NaN by default, since no score looked at them,
    and the overlays leave them uncoloured; the pixel metrics pass the lowest window score.
    """
    p, s = grid.patch_size, grid.step_size
    covered = ((grid.rows - 1) * s + p, (grid.cols - 1) * s + p)  # (h, w) under some window
    per_window = patch_maps.float().flatten(1)[:, None, :].expand(-1, p * p, -1)  # (M, p·p, P)
    summed = F.fold(per_window, covered, kernel_size=p, stride=s)  # (M, 1, h, w)
    counts = F.fold(torch.ones_like(per_window[:1]), covered, kernel_size=p, stride=s)  # (1, 1, h, w)
    pixels = torch.full((len(patch_maps), grid.height, grid.width), float(uncovered))  # (M, H, W)
    pixels[:, : covered[0], : covered[1]] = (summed / counts)[:, 0]
    return pixels.numpy()
