"""Sliding-window feature extraction: every window of an image through the model, batched.

A window grid has ``(size − patch) // step`` starts per axis by default, like the authors'
evaluation (which skips the last valid start); ``include_last=True`` keeps it. Positions are
numbered row by row (the authors' outer loop is over rows).

``sliding_window_features`` takes all windows as a strided view of the images (no copy, no
Python loop over positions) and feeds them to the model in chunks. ``looped_window_features``
is the authors' one-position-at-a-time loop, kept as the reference the fast path is tested
and benchmarked against.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .sampling import grid_starts


@dataclass(frozen=True)
class WindowGrid:
    """Where the windows of a (height, width) image start."""

    height: int
    width: int
    patch_size: int
    step_size: int
    include_last: bool = False

    @property
    def rows(self) -> int:
        return grid_starts(self.height, self.patch_size, self.step_size) + int(self.include_last)

    @property
    def cols(self) -> int:
        return grid_starts(self.width, self.patch_size, self.step_size) + int(self.include_last)

    @property
    def positions(self) -> int:
        return self.rows * self.cols

    @property
    def shape(self) -> tuple[int, int]:
        return self.rows, self.cols

    def starts(self) -> list[tuple[int, int]]:
        """Pixel (top, left) of each window, in position order (row by row)."""
        s = self.step_size
        return [(r * s, c * s) for r in range(self.rows) for c in range(self.cols)]


def window_view(images: torch.Tensor, grid: WindowGrid) -> torch.Tensor:
    """All windows of (N, C, H, W) images as a strided view (N, rows, cols, C, p, p); no copy."""
    p, s = grid.patch_size, grid.step_size
    windows = images.unfold(2, p, s).unfold(3, p, s)  # (N, C, rows+, cols+, p, p)
    windows = windows[:, :, : grid.rows, : grid.cols]  # (N, C, rows, cols, p, p)
    return windows.permute(0, 2, 3, 1, 4, 5)  # (N, rows, cols, C, p, p)


def embed_fn(model: nn.Module):
    """The function giving a window's feature: the pooled embedding (``model(x)[1]``)."""
    return model.embed if hasattr(model, "embed") else (lambda x: model(x)[1])


@torch.inference_mode()
def sliding_window_features(
    model: nn.Module,
    images: torch.Tensor,
    patch_size: int,
    step_size: int,
    chunk_size: int = 64,
    include_last: bool = False,
    channels_last: bool = True,
) -> torch.Tensor:
    """Embeddings of every window of ``images`` (N, C, H, W) → float32 (N, channels, positions).

    Windows of all N images are gathered ``chunk_size`` at a time from a strided view and run
    through the model (eval mode is the caller's job). ``channels_last`` hands each chunk to
    the model in the memory layout that CPU and GPU convolutions prefer.
    """
    grid = WindowGrid(images.shape[-2], images.shape[-1], patch_size, step_size, include_last)
    device = next(model.parameters()).device
    embed = embed_fn(model)
    windows = window_view(images.to(device), grid)  # (N, rows, cols, C, p, p)
    total = len(images) * grid.positions
    flat = torch.arange(total, device=device)  # window number, image by image, row by row
    image_index, position = flat // grid.positions, flat % grid.positions  # (N·P,), (N·P,)
    row_index, col_index = position // grid.cols, position % grid.cols  # (N·P,), (N·P,)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format

    features = []
    for start in range(0, total, chunk_size):
        part = slice(start, start + chunk_size)
        chunk = windows[image_index[part], row_index[part], col_index[part]]  # (chunk, C, p, p) copy
        features.append(embed(chunk.contiguous(memory_format=memory_format)).float())  # (chunk, channels)
    features = torch.cat(features).cpu()  # (N·P, channels)
    return features.reshape(len(images), grid.positions, -1).transpose(1, 2)  # (N, channels, P)


@torch.no_grad()
def looped_window_features(
    model: nn.Module, images: torch.Tensor, patch_size: int, step_size: int, include_last: bool = False
) -> torch.Tensor:
    """The authors' evaluation loop: one window position at a time → (N, channels, positions)."""
    grid = WindowGrid(images.shape[-2], images.shape[-1], patch_size, step_size, include_last)
    device = next(model.parameters()).device
    embed = embed_fn(model)
    per_position = []
    for top, left in grid.starts():
        window = images[:, :, top : top + patch_size, left : left + patch_size]  # (N, C, p, p)
        per_position.append(embed(window.to(device)).float().cpu())  # (N, channels)
    return torch.stack(per_position, dim=-1)  # (N, channels, P)
