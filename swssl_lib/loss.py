"""The twin loss of SWSSL: a Barlow-Twins-style redundancy term plus a neighbour term.

Paper: Dong, Konz, Gu, Mazurowski, "Sliding window self-supervised learning for
anomaly detection in high-resolution images", IEEE TMI 2023.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

VARIANTS = ("paper", "notebook")


def twin_loss(
    f_patch1: torch.Tensor,
    f_patch2: torch.Tensor,
    f_neg: torch.Tensor | None = None,
    target: torch.Tensor | None = None,
    variant: str = "paper",
    off_diagonal_weight: float = 1e-6,
) -> torch.Tensor:
    """Twin loss between two views of the same patches, optionally with their neighbours.

    Inputs are projections of shape (batch B, dim D); ``target`` has shape (B,).

    ``variant="paper"`` (the authors' code): z-score every feature over the batch,
    ``z = (f - mean_0 f) / std_0 f`` (unbiased std), and correlate the two views
    dimension by dimension, ``C = z1ᵀ z2 / B`` (D × D).

    ``variant="notebook"`` (the course notebook): L2-normalise each row, ``n = f / ‖f‖``,
    and compare patches with each other, ``C = n1 n2ᵀ / B`` (B × B).

    Both then use  ``L = Σᵢ (Cᵢᵢ − 1)² + w · Σ_{i≠j} Cᵢⱼ²``  with ``w = off_diagonal_weight``.

    With neighbours (``f_neg`` and ``target``), two terms are added, where ``σ`` is the
    sigmoid and ``cos`` the cosine of row k of two feature sets:

        ``L += Σₖ |σ(cos(f1ₖ, f2ₖ)) − 1|  +  Σₖ |σ(cos(f1ₖ, f_negₖ)) − targetₖ|``

    The first pulls the two views together; the second asks a neighbouring patch to be
    as similar as its grid distance says (see ``swssl_lib.sampling.neighbour_similarity``).
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    if f_patch1.shape != f_patch2.shape or f_patch1.dim() != 2:
        raise ValueError(
            f"f_patch1 and f_patch2 must both be (batch, dim); got {tuple(f_patch1.shape)} "
            f"and {tuple(f_patch2.shape)}"
        )
    batch = f_patch1.shape[0]
    if batch < 2:
        raise ValueError("twin_loss needs a batch of at least 2 (it normalises over the batch)")

    if variant == "paper":
        z1 = (f_patch1 - f_patch1.mean(0)) / f_patch1.std(0)
        z2 = (f_patch2 - f_patch2.mean(0)) / f_patch2.std(0)
        correlation = z1.t() @ z2 / batch  # (D, D)
    else:
        n1 = F.normalize(f_patch1, dim=-1)
        n2 = F.normalize(f_patch2, dim=-1)
        correlation = n1 @ n2.t() / batch  # (B, B)

    on_diagonal = torch.diagonal(correlation)  # (D,) or (B,)
    off_diagonal_mask = ~torch.eye(len(correlation), dtype=torch.bool, device=correlation.device)
    loss = (on_diagonal - 1).pow(2).sum()
    loss = loss + off_diagonal_weight * correlation[off_diagonal_mask].pow(2).sum()

    if f_neg is not None:
        if target is None:
            raise ValueError("twin_loss: f_neg was given without its target similarity")
        loss = loss + neighbour_terms(f_patch1, f_patch2, f_neg, target)
    elif target is not None:
        raise ValueError("twin_loss: target was given without f_neg")
    return loss


def neighbour_terms(
    f_patch1: torch.Tensor, f_patch2: torch.Tensor, f_neg: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """``Σₖ |σ(cos(f1ₖ, f2ₖ)) − 1| + Σₖ |σ(cos(f1ₖ, f_negₖ)) − targetₖ|`` (see ``twin_loss``)."""
    if f_neg.shape != f_patch1.shape:
        raise ValueError(
            f"f_neg must have the shape of f_patch1 {tuple(f_patch1.shape)}, got {tuple(f_neg.shape)}"
        )
    target = torch.as_tensor(target, dtype=f_patch1.dtype, device=f_patch1.device)
    if target.shape != (f_patch1.shape[0],):
        raise ValueError(f"target must have shape ({f_patch1.shape[0]},), got {tuple(target.shape)}")
    n1 = F.normalize(f_patch1, dim=-1)
    n2 = F.normalize(f_patch2, dim=-1)
    n_neg = F.normalize(f_neg, dim=-1)
    pair_similarity = torch.sigmoid((n1 * n2).sum(-1))  # (B,)
    neighbour_similarity = torch.sigmoid((n1 * n_neg).sum(-1))  # (B,)
    pair_term = (pair_similarity - 1).abs().sum()
    neighbour_term = (neighbour_similarity - target).abs().sum()
    return pair_term + neighbour_term
