"""A stand-in engine for `sagan_step` that records what one iteration does, for the notebooks' checks.

`sagan_step(engine, ...)` asks its engine for everything that is not the algorithm (see
`sagan_lib/step.py`). `RecordingEngine` answers with the smallest stand-ins that keep the maths
running, a one-weight "generator" (x ↦ w·x) and a linear critic, and writes down every call:
how many times G ran, and which network each update trained. So the update order can be
checked by behaviour, without reading any trainer's source.
"""

import torch
from torch import nn

from anomaly_lib.amp import MixedPrecision

from .config import SaganConfig


class LinearCritic(nn.Module):
    """D(x) = w · mean(x) per image, one weight: `(features, scores)` like the real critic, scores (b,)."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(()))

    def forward(self, images: torch.Tensor):
        return None, self.weight * images.mean(dim=(1, 2, 3))  # (b, 1, H, W) → (b,)


class RecordingEngine:
    """What `sagan_step` needs from a trainer, with a log of its calls.

    `updates`: "critic" or "generator", one entry per optimiser step, in order;
    `critic_frozen_during_generator_update`: for each generator update, whether D was frozen;
    `generator_calls`: the number of `generate` calls, and `generated_images` the images they took.
    """

    def __init__(self, config: SaganConfig, join_calls: bool = False):
        self.config, self.join_calls = config, join_calls
        self.G_weight = nn.Parameter(torch.ones(()))  # G(x) = w·x: one weight, enough for gradients to flow
        self.D = self.D_train = LinearCritic()
        self.d_amp = self.g_amp = MixedPrecision("cpu")  # float32: autocast is a no-op, scale 1
        self.updates, self.critic_frozen_during_generator_update = [], []
        self.generator_calls, self.generated_images, self._batch = 0, 0, 1

    def generate(self, *batches) -> list:
        given = [x for x in batches if x is not None]
        self.generator_calls += 1 if given else 0
        self.generated_images += sum(len(x) for x in given)
        self._batch = len(given[0]) if given else self._batch
        return [self.G_weight * x if x is not None else None for x in batches]

    def interpolation_weights(self) -> torch.Tensor:
        return torch.rand(self._batch, 1, 1, 1)  # one u per image, (b, 1, 1, 1)

    def update_critic(self, loss: torch.Tensor) -> None:
        self.updates.append("critic")

    def update_generator(self, loss: torch.Tensor) -> None:
        self.updates.append("generator")
        self.critic_frozen_during_generator_update.append(not any(p.requires_grad for p in self.D.parameters()))
