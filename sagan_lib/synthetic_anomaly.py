"""SAGAN's synthetic anomalies: a square of another normal image, blended in.

For each image (all sizes in pixels, H×W image):
  1. centre: drawn inside the central `core_percent` of each axis
     (`offset = (1 − core_percent)/2 · side`, centre ~ randint(offset, offset + core));
  2. half-width: randint(round(0.05·W), round(0.2·W)), upper end exclusive;
  3. box: centre ± half-width, clipped to the image;
  4. alpha ~ U(0, 1) inside the box, 0 outside;
  5. result = (1 − mask)·image + mask·source, with `source` a *different* normal.

The generator is then trained to map `result` back to `image` (the MSE term),
so it learns to remove lesion-like foreign structures.
"""

import torch


def pick_sources(indices: torch.Tensor, num_normals: int, generator: torch.Generator = None) -> torch.Tensor:
    """For each normal index, a random other index in `[0, num_normals)`, never itself."""
    if num_normals < 2:
        raise ValueError("synthetic anomalies need at least 2 labeled normal images (the source must differ)")
    offsets = torch.randint(1, num_normals, indices.shape, generator=generator)
    return (indices + offsets) % num_normals


def paste_anomalies(images: torch.Tensor, sources: torch.Tensor, core_percent: float = 0.6,
                    generator: torch.Generator = None):
    """Blend a random square of `sources` into `images`, one box per image, on their device.

    images, sources: `(B, C, H, W)`. Returns `(anomalies (B, C, H, W), masks (B, 1, H, W) bool)`.
    """
    batch, _, height, width = images.shape
    device = images.device

    def draw(low, high, size):  # integers in [low, high), on the CPU generator
        return torch.randint(int(low), int(high), size, generator=generator)

    offset_y, offset_x = (1 - core_percent) / 2 * height, (1 - core_percent) / 2 * width
    centre_y = draw(offset_y, offset_y + core_percent * height, (batch,))
    centre_x = draw(offset_x, offset_x + core_percent * width, (batch,))
    half_width = draw(round(0.05 * width), round(0.2 * width), (batch,))
    alpha = torch.rand(batch, generator=generator)

    rows = torch.arange(height).view(1, height, 1)  # (1, H, 1)
    cols = torch.arange(width).view(1, 1, width)  # (1, 1, W)
    inside = (
        (rows >= (centre_y - half_width).view(-1, 1, 1)) & (rows < (centre_y + half_width).view(-1, 1, 1))
        & (cols >= (centre_x - half_width).view(-1, 1, 1)) & (cols < (centre_x + half_width).view(-1, 1, 1))
    )  # (B, H, W); the comparison clips the box to the image
    mask = (inside * alpha.view(-1, 1, 1)).unsqueeze(1).to(device=device, dtype=images.dtype)  # (B, 1, H, W)
    anomalies = (1 - mask) * images + mask * sources
    return anomalies, mask > 0
