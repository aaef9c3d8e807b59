"""The authors' patch sampler: a patch on a grid, and a neighbour a few grid steps away.

The grid has ``(size − patch) // step`` starts per axis (the last valid start is skipped, as in
the authors' code). A training item is a non-black grid patch plus a *different*, non-black
grid patch within ±3 steps on each axis, with a target similarity that shrinks with distance.

The authors draw grid starts uniformly until the patch is not black, which never ends on a
black image. Drawing uniformly among the non-black cells gives the same distribution and lets
us raise a clear error instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

MAX_NEIGHBOUR_OFFSET = 3


def grid_starts(length: int, patch_size: int, step_size: int) -> int:
    """How many window starts (``k·step`` for ``k = 0 … n−1``) the authors use on one axis."""
    count = (length - patch_size) // step_size
    if patch_size <= 0 or step_size <= 0 or count < 1:
        raise ValueError(
            f"an axis of {length} px holds no grid of patch {patch_size} / step {step_size}: "
            f"it needs (size − patch) // step ≥ 1, i.e. size ≥ patch + step = {patch_size + step_size}"
        )
    return count


def neighbour_similarity(dx: int, dy: int) -> float:
    """Target similarity of a neighbour ``(dx, dy)`` grid steps away.

    Per axis ``0 if d == 3 else 0.5 / (d + 1)``, summed over both axes (so 1 would be the
    patch itself, 0.75 a direct neighbour and 0 the far corner (3, 3)).
    """
    dx, dy = abs(int(dx)), abs(int(dy))
    if max(dx, dy) > MAX_NEIGHBOUR_OFFSET:
        raise ValueError(f"a neighbour lies within ±{MAX_NEIGHBOUR_OFFSET} steps, got ({dx}, {dy})")

    def per_axis(d: int) -> float:
        return 0.0 if d == MAX_NEIGHBOUR_OFFSET else 0.5 / (d + 1)

    return per_axis(dx) + per_axis(dy)


def similarity_table() -> dict[tuple[int, int], float]:
    """``{(dx, dy): similarity}`` for every neighbour offset with 0 ≤ dx, dy ≤ 3, except (0, 0)."""
    offsets = range(MAX_NEIGHBOUR_OFFSET + 1)
    return {(dx, dy): neighbour_similarity(dx, dy) for dx in offsets for dy in offsets if dx or dy}


def nonblack_cells(image: torch.Tensor, patch_size: int, step_size: int) -> torch.Tensor:
    """Which grid patches of a (H, W) image hold a pixel above 0: bool (rows, cols)."""
    rows = grid_starts(image.shape[-2], patch_size, step_size)
    cols = grid_starts(image.shape[-1], patch_size, step_size)
    windows = image.unfold(0, patch_size, step_size).unfold(1, patch_size, step_size)  # (R+, C+, p, p) view
    windows = windows[:rows, :cols]  # (rows, cols, p, p): the authors' grid only
    return windows.amax(dim=(-2, -1)) > 0  # (rows, cols)


@dataclass(frozen=True)
class PatchPair:
    """Grid cells (row, col) of a patch and its neighbour, and their target similarity."""

    cell: tuple[int, int]
    neighbour: tuple[int, int]
    similarity: float

    def pixel_start(self, step_size: int) -> tuple[int, int]:
        return self.cell[0] * step_size, self.cell[1] * step_size

    def neighbour_pixel_start(self, step_size: int) -> tuple[int, int]:
        return self.neighbour[0] * step_size, self.neighbour[1] * step_size


def _draw(cells: torch.Tensor, generator: torch.Generator | None) -> tuple[int, int]:
    """One (row, col) drawn uniformly from the True entries of a bool grid."""
    candidates = cells.nonzero()  # (n, 2)
    pick = torch.randint(len(candidates), (1,), generator=generator).item()
    row, col = candidates[pick].tolist()
    return row, col


def sample_patch_pair(
    image: torch.Tensor,
    patch_size: int,
    step_size: int,
    generator: torch.Generator | None = None,
    name: str = "image",
) -> PatchPair:
    """Draw a non-black grid patch and a non-black neighbour within ±3 steps, never itself.

    ``image`` is (H, W). ``generator`` makes the draw reproducible (the default uses torch's
    global generator, which DataLoader seeds per worker). ``name`` goes into the errors.
    """
    nonblack = nonblack_cells(image, patch_size, step_size)  # (rows, cols)
    if not nonblack.any():
        raise ValueError(
            f"{name}: every {patch_size}px grid patch is black (all pixels 0), so no training "
            "patch can be drawn. Remove the image or check how it was exported."
        )
    row, col = _draw(nonblack, generator)

    near = torch.zeros_like(nonblack)
    r = MAX_NEIGHBOUR_OFFSET
    near[max(row - r, 0) : row + r + 1, max(col - r, 0) : col + r + 1] = True
    near[row, col] = False  # never the patch itself
    candidates = near & nonblack
    if not candidates.any():
        raise ValueError(
            f"{name}: the only non-black {patch_size}px patch near grid cell ({row}, {col}) "
            f"is the cell itself, so no neighbour within ±{r} steps can be drawn."
        )
    n_row, n_col = _draw(candidates, generator)
    # x is the horizontal (column) offset, y the vertical one; the rule is symmetric anyway.
    similarity = neighbour_similarity(n_col - col, n_row - row)
    return PatchPair((row, col), (n_row, n_col), similarity)
