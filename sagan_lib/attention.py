"""Attention gate on a U-Net skip connection (Oktay et al., Attention U-Net).

The decoder's feature (the *gate*) decides, pixel by pixel, how much of the
encoder's skip feature is let through:

    ψ = σ(IN(conv₁ₓ₁(ReLU(IN(W_g g) + IN(W_x x)))))      out = x ⊙ ψ
"""

import torch
from torch import nn


class AttentionGate(nn.Module):
    """Gate a skip feature `x` with a decoder feature `g` of the same spatial size."""

    def __init__(self, F_g: int, F_l: int, n_coefficients: int):
        super().__init__()
        self.W_gate = nn.Sequential(
            nn.Conv2d(F_g, n_coefficients, kernel_size=1),
            nn.InstanceNorm2d(n_coefficients),
        )
        self.W_x = nn.Sequential(
            nn.Conv2d(F_l, n_coefficients, kernel_size=1),
            nn.InstanceNorm2d(n_coefficients),
        )
        self.psi = nn.Sequential(
            nn.Conv2d(n_coefficients, 1, kernel_size=1),
            nn.InstanceNorm2d(1),
            nn.Sigmoid(),
        )

    def attention_map(self, gate: torch.Tensor, skip_connection: torch.Tensor) -> torch.Tensor:
        """The gate's weights ψ in [0, 1], shape `(N, 1, h, w)`."""
        combined = torch.relu(self.W_gate(gate) + self.W_x(skip_connection))  # (N, n_coef, h, w)
        return self.psi(combined)  # (N, 1, h, w)

    def forward(self, gate: torch.Tensor, skip_connection: torch.Tensor) -> torch.Tensor:
        return skip_connection * self.attention_map(gate, skip_connection)
