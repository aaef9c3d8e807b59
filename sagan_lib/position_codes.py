"""Binary position codes: each window's index as constant channels, cancelled by the next InstanceNorm.

Intent (the paper): the generator's weights are shared by all windows, so a
window from the top left and one from the bottom right are treated alike.
SAGAN appends the window's index, written in binary, as extra constant
channels at three depths of the encoder, meant to tell the network where each
window sits.

What the published network does: every place a code enters is followed by a
1×1 convolution and an InstanceNorm without learned parameters or running
statistics. A channel that is constant over the window adds one constant per
output channel after the 1×1 convolution, and the InstanceNorm subtracts each
channel's spatial mean, so that constant vanishes: the generator's output does
not depend on the codes (up to float rounding). That holds for the authors'
published checkpoints too, since the kit reproduces their network number for
number; notebook 02 shows it. Ways to make a position signal survive: append
it after the normalisation, let the norm's scale and shift depend on the code,
or use coordinates that vary across the window (as CoordConv does).
"""

import math

import torch


def binary_position_codes(num_windows: int) -> torch.Tensor:
    """Codes `(num_windows, floor(log2(num_windows)) + 1)`, most significant bit first.

    For 4 windows: 0 → 000, 1 → 001, 2 → 010, 3 → 011.
    """
    if num_windows < 1:
        raise ValueError(f"num_windows must be positive, got {num_windows}")
    num_bits = int(math.floor(math.log2(num_windows))) + 1
    index = torch.arange(num_windows).unsqueeze(1)  # (num_windows, 1)
    bit_values = 2 ** torch.arange(num_bits - 1, -1, -1)  # (num_bits,) MSB first
    return ((index // bit_values) % 2).float()  # (num_windows, num_bits)


def append_position_codes(features: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """Concatenate each window's code as constant channels.

    features `(B·M, C, h, w)` with M windows per image, codes `(M, bits)`
    → `(B·M, C + bits, h, w)`.
    """
    num_memory, num_bits = codes.shape
    count, channels, height, width = features.shape
    batch = count // num_memory
    per_image = features.reshape(batch, num_memory, channels, height, width)
    code_maps = codes.to(features.dtype).reshape(1, num_memory, num_bits, 1, 1)
    code_maps = code_maps.expand(batch, num_memory, num_bits, height, width)
    combined = torch.cat([per_image, code_maps], dim=2)  # (B, M, C + bits, h, w)
    return combined.reshape(count, channels + num_bits, height, width)
