"""The SWSSL patch model: a ResNet body, global average pooling and a projector.

Training uses the projection; scoring uses the pooled backbone embedding, as the authors do.
The attribute names (``backbone``, ``projector``) follow the authors' ``Patch_Model`` so that
state dicts match key for key.
"""

from __future__ import annotations

import contextlib
import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval
from torch.utils.checkpoint import checkpoint

from anomaly_lib.backbones import build_resnet


class PatchModel(nn.Module):
    """ResNet body → global average pooling → projector (Linear, BatchNorm1d, ReLU, Linear).

    ``forward(x)`` takes patches (N, input_channel, h, w) and returns
    ``(projection, embedding)``, both (N, width), where width is the backbone's feature
    width (2048 for wide_resnet50_2, 512 for resnet18).

    ``checkpoint_activations=True`` trades compute for memory in training: only the input of
    each backbone stage is kept for backward, and the stage is run again to get the rest
    (``torch.utils.checkpoint``). The losses and gradients are the same.
    """

    def __init__(self, input_channel: int = 3, backbone: str = "wide_resnet50_2", pretrained: bool = True,
                 checkpoint_activations: bool = False):
        super().__init__()
        self.checkpoint_activations = checkpoint_activations
        resnet = build_resnet(backbone, pretrained)
        if input_channel != 3:  # as the authors: a fresh first convolution for other inputs
            resnet.conv1 = nn.Conv2d(input_channel, 64, kernel_size=7, stride=2, padding=3, bias=False)
        width = resnet.fc.in_features
        self.input_channel = input_channel
        self.width = width
        # The ResNet's children without its average pooling and classifier, as the authors keep it.
        self.backbone = nn.Sequential(*list(resnet.children())[:-2])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.projector = nn.Sequential(
            nn.Linear(width, width, bias=False),
            nn.BatchNorm1d(width),
            nn.ReLU(inplace=True),
            nn.Linear(width, width, bias=False),
        )

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled backbone feature used for scoring: (N, C, h, w) → (N, width)."""
        if self.checkpoint_activations and self.training and torch.is_grad_enabled():
            feature_map = run_checkpointed(self.backbone, x)  # (N, width, h/32, w/32)
        else:
            feature_map = self.backbone(x)  # (N, width, h/32, w/32)
        return self.pool(feature_map).flatten(1)  # (N, width)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embedding = self.embed(x)  # (N, width)
        return self.projector(embedding), embedding  # (N, width), (N, width)


Patch_Model = PatchModel  # the authors' name


def backbone_stages(backbone: nn.Sequential) -> list[nn.Module]:
    """The ResNet body as five stages: the stem (conv1, bn1, relu, maxpool), then layer1 … layer4."""
    children = list(backbone.children())
    return [nn.Sequential(*children[:-4]), *children[-4:]]


def run_checkpointed(backbone: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """The backbone stage by stage, each under activation checkpointing (recomputed in backward).

    The recomputation runs inside ``kept_running_statistics``, so the BatchNorm running statistics
    are updated once per forward, as without checkpointing.
    """
    for stage in backbone_stages(backbone):
        x = checkpoint(stage, x, use_reentrant=False, context_fn=_contexts_keeping_statistics(stage))
    return x


def _contexts_keeping_statistics(stage: nn.Module):
    """For ``checkpoint``'s ``context_fn``: (the forward's context, the recomputation's context)."""
    return lambda: (contextlib.nullcontext(), kept_running_statistics(stage))


@contextlib.contextmanager
def kept_running_statistics(module: nn.Module):
    """Put the BatchNorm buffers (running mean, variance, batch count) back as they were."""
    buffers = [b for name, b in module.named_buffers() if name.endswith(("running_mean", "running_var",
                                                                         "num_batches_tracked"))]
    saved = [b.clone() for b in buffers]
    try:
        yield
    finally:  # also when checkpointing stops the recomputation early, by raising inside it
        with torch.no_grad():
            for buffer, value in zip(buffers, saved):
                buffer.copy_(value)


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """An eval-mode copy in which each BatchNorm2d is folded into the convolution before it.

    In eval mode a BatchNorm is a fixed per-channel scale and shift, so it can be merged into
    the preceding convolution's weights: the same outputs (up to rounding) with one pass over
    memory fewer per layer. Used for feature extraction; the original model is untouched.
    """
    folded = copy.deepcopy(model).eval()

    def fold_children(module: nn.Module) -> None:
        names = list(module._modules)
        for first, second in zip(names, names[1:]):  # ResNet order: conv1, bn1, …, conv2, bn2
            conv, norm = module._modules[first], module._modules[second]
            if isinstance(conv, nn.Conv2d) and isinstance(norm, (nn.BatchNorm2d, nn.SyncBatchNorm)):
                module._modules[first] = fuse_conv_bn_eval(conv, norm)
                module._modules[second] = nn.Identity()
        for child in module.children():
            fold_children(child)

    fold_children(folded)
    return folded
