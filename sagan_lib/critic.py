"""SAGAN's critic: a deep strided-conv network that scores whole images (WGAN).

    (1, 64, 64) → (64, 32, 32) → (128, 16, 16) → … → (2048, 1, 1) → score (1, 1, 1)

It is a Wasserstein critic: the score is an unbounded real number, higher for
images that look like real normals, not a probability.
"""

import torch
from torch import nn


class Discriminator(nn.Module):
    """`repeat_num` stride-2 convs with LeakyReLU(0.01), then a 3×3 conv to one score map."""

    def __init__(self, image_size: int = 64, conv_dim: int = 64, c_dim: int = 0, repeat_num: int = 6):
        super().__init__()
        if image_size % (2 ** repeat_num) != 0:
            raise ValueError(
                f"image_size {image_size} is not divisible by 2**repeat_num = {2 ** repeat_num}"
            )
        layers = [nn.Conv2d(1, conv_dim, kernel_size=4, stride=2, padding=1), nn.LeakyReLU(0.01)]
        width = conv_dim
        for _ in range(1, repeat_num):
            layers += [nn.Conv2d(width, 2 * width, kernel_size=4, stride=2, padding=1), nn.LeakyReLU(0.01)]
            width *= 2
        self.main = nn.Sequential(*layers)
        self.conv1 = nn.Conv2d(width, 1, kernel_size=3, stride=1, padding=1, bias=False)
        self.c_dim = c_dim

    def forward(self, x: torch.Tensor):
        """Images `(B, 1, H, W)` → `(features (B, width, H/2^r, W/2^r), score (B, 1, H/2^r, W/2^r))`."""
        if x.dim() != 4 or x.shape[1] != 1:
            raise ValueError(f"Discriminator expects images (B, 1, H, W), got shape {tuple(x.shape)}")
        h = self.main(x)
        return h, self.conv1(h)
