"""SAGAN's generator: a U-Net over one window, given the window's position code (which its norms cancel).

Data flow for one 32×32 window (`conv_dim=64`; shapes per window, the batch
axis is B·M for B images of M windows each):

    stem          (1, 32, 32)  → (64, 32, 32)
    encoder 1     → (128, 16, 16) + position code → (128, 16, 16)     skip 0
    encoder 2     → (256, 8, 8)   + position code → (256, 8, 8)       skip 1
    encoder 3     → (512, 4, 4)
    bottleneck    + position code → (512, 4, 4) → residual blocks
    decoder 1     attention(embedding, embedding), concat, fuse, up → (256, 8, 8)
    decoder 2     attention(out1, skip 1),        concat, fuse, up → (128, 16, 16)
    decoder 3     attention(out2, skip 0),        concat, fuse, up → (64, 32, 32)
    multi-scale   upsample decoder 1 and 2 to 32×32, concat → (192, 32, 32) → (64, 32, 32)
    head          conv → residual r (1, 32, 32);  output = tanh(r + x)

Attribute names follow the published checkpoints' keys (`layer1`, `enc_layer1`,
`p_bn1`, `bn2`, `gate1`, …) so the authors' weights load with `strict=True`.
"""

import math

import torch
from torch import nn

from .attention import AttentionGate
from .blocks import ResidualBlock, ResidualBlock1, conv_norm_relu, position_mixer, up_norm_relu
from .position_codes import append_position_codes, binary_position_codes

# In train mode the authors keep each output pixel with this probability and
# replace the rest by the input pixel, before the residual tanh head.
KEEP_PROBABILITY = 0.95


def keep_mask(shape) -> torch.Tensor:
    """The train-mode mask: 1 keeps an output pixel (probability KEEP_PROBABILITY), 0 takes the input's.

    Drawn on the CPU from torch's global generator, as the authors do.
    """
    return torch.bernoulli(torch.ones(shape) * KEEP_PROBABILITY)


class Generator(nn.Module):
    """Window-wise U-Net with position codes, attention gates and a residual tanh head."""

    def __init__(self, conv_dim: int = 64, c_dim: int = 0, repeat_num: int = 6, num_memory: int = 4,
                 image_size: int = None, use_position_codes: bool = True):
        super().__init__()
        num_patch = math.isqrt(num_memory)
        if num_memory < 1 or num_patch * num_patch != num_memory:
            raise ValueError(f"num_memory must be a perfect square (windows in a square grid), got {num_memory}")
        if image_size is not None and image_size % (num_patch * 8) != 0:
            raise ValueError(
                f"image_size {image_size} is not divisible by num_patch·8 = {num_patch * 8}"
            )
        self.num_memory = num_memory
        self.c_dim = c_dim
        codes = binary_position_codes(num_memory)  # (M, bits)
        if not use_position_codes:  # the ablation: same channels and weights, every code all zeros
            codes = torch.zeros_like(codes)
        self.register_buffer("binary_encoding", codes, persistent=False)
        num_bits = self.binary_encoding.shape[1]
        d = conv_dim

        # Stem and encoder.
        self.layer1 = conv_norm_relu(1 + c_dim, d, kernel_size=7, padding=3)
        self.enc_layer1 = conv_norm_relu(d, 2 * d, kernel_size=4, stride=2, padding=1)
        self.p_bn1 = position_mixer(2 * d + num_bits, 2 * d)
        self.enc_layer2 = conv_norm_relu(2 * d, 4 * d, kernel_size=4, stride=2, padding=1)
        self.p_bn2 = position_mixer(4 * d + num_bits, 4 * d)
        self.enc_layer3 = conv_norm_relu(4 * d, 8 * d, kernel_size=4, stride=2, padding=1)

        # Bottleneck: fold in the position code, then residual blocks.
        self.bn2 = nn.Sequential(
            *position_mixer(8 * d + num_bits, 8 * d),
            *[ResidualBlock(8 * d) for _ in range(repeat_num)],
        )

        # Attention-gated decoder.
        self.gate1 = AttentionGate(8 * d, 8 * d, 4 * d)
        self.dec_bn1 = ResidualBlock1(16 * d, 8 * d)
        self.dec_layer1 = nn.Sequential(*up_norm_relu(8 * d, 4 * d))
        self.up_conv1 = nn.Sequential(*up_norm_relu(4 * d, 2 * d), *up_norm_relu(2 * d, d))
        self.gate2 = AttentionGate(4 * d, 4 * d, 2 * d)
        self.dec_bn2 = ResidualBlock1(8 * d, 4 * d)
        self.dec_layer2 = nn.Sequential(*up_norm_relu(4 * d, 2 * d))
        self.up_conv2 = nn.Sequential(*up_norm_relu(2 * d, d))
        self.gate3 = AttentionGate(2 * d, 2 * d, d)
        self.dec_bn3 = ResidualBlock1(4 * d, 2 * d)
        self.dec_layer3 = nn.Sequential(*up_norm_relu(2 * d, d))

        # Multi-scale fusion and the head.
        self.bn3 = ResidualBlock1(3 * d, d)
        self.conv = nn.Conv2d(d, 1, kernel_size=7, padding=3, bias=False)

    def _check_input(self, x: torch.Tensor, bs) -> None:
        if x.dim() != 4 or x.shape[1] != 1:
            raise ValueError(f"Generator expects windows (B·M, 1, ws, ws), got shape {tuple(x.shape)}")
        if x.shape[0] % self.num_memory != 0:
            raise ValueError(
                f"Generator got {x.shape[0]} windows, not a multiple of num_memory={self.num_memory}: "
                "pass all windows of each image (see sagan_lib.to_windows)"
            )
        if bs is not None and bs * self.num_memory != x.shape[0]:
            raise ValueError(f"bs={bs} × num_memory={self.num_memory} != {x.shape[0]} windows")
        if x.shape[-1] % 8 or x.shape[-2] % 8:
            raise ValueError(f"window size {tuple(x.shape[-2:])} must be a multiple of 8")

    def forward(self, x: torch.Tensor, bs: int = None, c: torch.Tensor = None,
                keep: torch.Tensor = None) -> torch.Tensor:
        """Windows `(B·M, 1, ws, ws)` in [-1, 1] → reconstructed windows, same shape.

        `bs` (images per batch) is inferred as `x.shape[0] // num_memory` when omitted. In train
        mode `keep` is the keep-mask (shape of `x`); the generator draws it when it is not given.
        """
        self._check_input(x, bs)
        stem_in = x
        if self.c_dim:
            c_maps = c.reshape(c.shape[0], self.c_dim, 1, 1).expand(-1, -1, *x.shape[2:])
            stem_in = torch.cat([x, c_maps], dim=1)  # (B·M, 1 + c_dim, ws, ws)
        codes = self.binary_encoding

        y = self.layer1(stem_in)  # (B·M, d, ws, ws)
        y1 = self.p_bn1(append_position_codes(self.enc_layer1(y), codes))  # (B·M, 2d, ws/2, ws/2)
        y2 = self.p_bn2(append_position_codes(self.enc_layer2(y1), codes))  # (B·M, 4d, ws/4, ws/4)
        y3 = self.enc_layer3(y2)  # (B·M, 8d, ws/8, ws/8)
        embedding = self.bn2(append_position_codes(y3, codes))  # (B·M, 8d, ws/8, ws/8)

        gated = self.gate1(embedding, embedding)
        out1 = self.dec_layer1(self.dec_bn1(torch.cat([embedding, gated], dim=1)))  # (B·M, 4d, ws/4, ws/4)
        gated = self.gate2(out1, y2)
        out2 = self.dec_layer2(self.dec_bn2(torch.cat([out1, gated], dim=1)))  # (B·M, 2d, ws/2, ws/2)
        gated = self.gate3(out2, y1)
        out3 = self.dec_layer3(self.dec_bn3(torch.cat([out2, gated], dim=1)))  # (B·M, d, ws, ws)

        multi_scale = torch.cat([self.up_conv1(out1), self.up_conv2(out2), out3], dim=1)  # (B·M, 3d, ws, ws)
        residual = self.conv(self.bn3(multi_scale))  # (B·M, 1, ws, ws)

        if self.training:
            keep = (keep_mask(residual.shape) if keep is None else keep).to(residual.device)
            residual = keep * residual + (1 - keep) * x
        return torch.tanh(residual + x)
