"""Cutting images into a grid of windows and stitching them back.

SAGAN's generator never sees a whole image: a 64×64 image becomes a 2×2 grid of
32×32 windows, the generator reconstructs each window, and the windows are put
back together before the critic and the anomaly score look at the image.

`make_window` / `window_reverse` keep the authors' channels-last conventions;
`to_windows` / `from_windows` are the NCHW versions the rest of the kit uses.
Both pairs use the same window order: image by image, rows top to bottom,
columns left to right.
"""

import torch
import torch.nn.functional as F


def make_window(x: torch.Tensor, window_size: int, stride: int = 1, padding: int = 0) -> torch.Tensor:
    """Channels-last images `(B, H, W, C)` → windows `(B·N, ws, ws, C)`.

    As in the authors' code, `stride` defaults to 1 (every overlapping window);
    SAGAN calls it with `stride=window_size` for a non-overlapping grid.
    """
    if x.dim() != 4:
        raise ValueError(f"make_window expects (B, H, W, C), got shape {tuple(x.shape)}")
    batch, _, _, channels = x.shape
    x = x.permute(0, 3, 1, 2)  # (B, C, H, W)
    columns = F.unfold(x, kernel_size=window_size, stride=stride, padding=padding)  # (B, C·ws·ws, N)
    num_windows = columns.shape[-1]
    windows = columns.view(batch, channels, window_size, window_size, num_windows)
    windows = windows.permute(0, 4, 2, 3, 1)  # (B, N, ws, ws, C)
    return windows.reshape(batch * num_windows, window_size, window_size, channels)


def window_reverse(windows: torch.Tensor, window_size: int, H: int, W: int) -> torch.Tensor:
    """Non-overlapping windows `(B·N, ws, ws, C)` → channels-last images `(B, H, W, C)`."""
    rows, cols = H // window_size, W // window_size
    if windows.shape[0] % (rows * cols) != 0:
        raise ValueError(
            f"window_reverse got {windows.shape[0]} windows, not a multiple of the "
            f"{rows}×{cols} windows in a {H}×{W} image"
        )
    batch = windows.shape[0] // (rows * cols)
    x = windows.reshape(batch, rows, cols, window_size, window_size, -1)
    x = x.permute(0, 1, 3, 2, 4, 5)  # (B, rows, ws, cols, ws, C)
    return x.reshape(batch, H, W, -1)


def check_window_grid(height: int, width: int, num_patch: int) -> int:
    """Return the window size, or raise if the image can't be cut into a valid grid.

    The generator halves each window three times, so a window side must be a
    multiple of 8: the image side must be a multiple of `num_patch · 8`.
    """
    for side in (height, width):
        if side % (num_patch * 8) != 0:
            raise ValueError(
                f"image size {height}×{width} is not divisible by num_patch·8 = {num_patch * 8}: "
                f"a {num_patch}×{num_patch} grid needs window sides that are multiples of 8"
            )
    if height != width:
        raise ValueError(f"SAGAN works on square images, got {height}×{width}")
    return height // num_patch


def to_windows(images: torch.Tensor, num_patch: int) -> torch.Tensor:
    """NCHW images `(B, C, H, W)` → windows `(B·num_patch², C, ws, ws)`."""
    batch, channels, height, width = images.shape
    ws = check_window_grid(height, width, num_patch)
    x = images.reshape(batch, channels, num_patch, ws, num_patch, ws)
    x = x.permute(0, 2, 4, 1, 3, 5)  # (B, rows, cols, C, ws, ws)
    return x.reshape(batch * num_patch * num_patch, channels, ws, ws)


def from_windows(windows: torch.Tensor, num_patch: int) -> torch.Tensor:
    """Windows `(B·num_patch², C, ws, ws)` → NCHW images `(B, C, H, W)`."""
    count, channels, ws, _ = windows.shape
    per_image = num_patch * num_patch
    if count % per_image != 0:
        raise ValueError(
            f"from_windows got {count} windows, not a multiple of num_patch² = {per_image}"
        )
    batch = count // per_image
    x = windows.reshape(batch, num_patch, num_patch, channels, ws, ws)
    x = x.permute(0, 3, 1, 4, 2, 5)  # (B, C, rows, ws, cols, ws)
    return x.reshape(batch, channels, num_patch * ws, num_patch * ws)
