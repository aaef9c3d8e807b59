"""SAGAN: Spatial-aware Attention GAN for medical-image anomaly detection (MICCAI 2024)."""

from .attention import AttentionGate
from .blocks import ResidualBlock, ResidualBlock1
from .critic import Discriminator
from .generator import Generator
from .losses import critic_loss, generator_loss, gradient_penalty
from .position_codes import append_position_codes, binary_position_codes
from .weights import guess_generator_config, load_generator_checkpoint
from .windows import from_windows, make_window, to_windows, window_reverse

__all__ = [
    "AttentionGate", "Discriminator", "Generator", "ResidualBlock", "ResidualBlock1",
    "append_position_codes", "binary_position_codes", "critic_loss", "from_windows",
    "generator_loss", "gradient_penalty", "guess_generator_config", "load_generator_checkpoint",
    "make_window", "to_windows", "window_reverse",
]
