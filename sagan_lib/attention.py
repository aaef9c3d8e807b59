"""Attention gate on a U-Net skip connection (Oktay et al., Attention U-Net).

The decoder's feature (the *gate*) decides, pixel by pixel, how much of the
encoder's skip feature is let through:

    ψ = σ(IN(conv₁ₓ₁(ReLU(IN(W_g g) + IN(W_x x)))))      out = x ⊙ ψ

As published, the last IN acts on ψ's single channel just before the sigmoid. It
standardises ψ's logits over each window (no learned scale or shift), so the mean
of ψ per window stays near 0.5 whatever the weights: the gate re-weights pixels
within a window but cannot close a skip (notebook 03, section 11; notebook 10, E14).
The layers keep the authors' order so that their checkpoints load.
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
