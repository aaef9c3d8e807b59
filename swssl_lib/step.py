"""One SWSSL step: the whole algorithm, read top to bottom.

    p₁ = proj(view₁),  pₙ = proj(neighbour),  p₂ = proj(view₂)          (the projections)
    L = twin_loss(p₁, p₂, f_neg = pₙ, target = similarity)
      = Σᵢ (Cᵢᵢ − 1)² + 1e-6 · Σ_{i≠j} Cᵢⱼ² + Σₖ |σ(cos(p₁ₖ, p₂ₖ)) − 1| + Σₖ |σ(cos(p₁ₖ, pₙₖ)) − targetₖ|
      with C = z₁ᵀ z₂ / B of the batch-z-scored projections (the paper variant; `loss.py`)
    SGD (lr 1e-4, momentum 0.9, weight decay 1e-5) after clipping every gradient to ±0.1.

The engine (`train.fit`) supplies mixed precision (``precision``: autocast and the float16
gradient scaler) and, under torchrun, the DDP-wrapped model; `distributed.gather_rows` makes the
loss the whole batch's (one process: the rows themselves).
"""

from __future__ import annotations

import torch
from torch import nn

from anomaly_lib import distributed
from anomaly_lib.amp import MixedPrecision

from .loss import twin_loss


def swssl_step(model: nn.Module, batch, optimizer, config, device,
               precision: MixedPrecision = None) -> torch.Tensor:
    """One optimisation step on a batch ``(view1, view2, neighbour, similarity)``; returns the loss.

    ``config``: a ``TrainConfig`` (its loss_variant and clip_value). ``precision`` (default float32)
    gives the autocast region and the gradient scaler. Under
    torchrun the batch is this process's share and the loss is the whole batch's.
    """
    precision = precision or MixedPrecision(device)
    view1, view2, neighbour, similarity = (x.to(device, non_blocking=True) for x in batch)
    with precision.autocast():
        projection1, _ = model(view1)  # (b, width)
        projection_neighbour, _ = model(neighbour)  # (b, width)
        projection2, _ = model(view2)  # (b, width)
    # The whole batch's projections, in float32 for the loss's normalisations: (B, width) each.
    projection1, projection_neighbour, projection2 = (
        distributed.gather_rows(p.float()) for p in (projection1, projection_neighbour, projection2))
    loss = twin_loss(projection1, projection2, f_neg=projection_neighbour, target=distributed.gather_rows(similarity),
                     variant=config.loss_variant)
    if not torch.isfinite(loss):
        return loss  # the caller stops before this step touches the weights
    precision.step(loss, optimizer, clip=lambda: nn.utils.clip_grad_value_(model.parameters(), config.clip_value))
    return loss.detach()
