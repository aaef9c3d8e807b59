"""ImageNet backbones from torchvision, with a clear error when the weights cannot be fetched.

Used by SWSSL's patch model and by the pretrained-feature nearest-neighbour baseline.
The weights come through torchvision's weights API (downloaded once into the torch cache);
offline, the error says how to go on, and nothing falls back silently to random weights.
"""

from __future__ import annotations

import torch
import torchvision
from torch import nn

# The per-channel mean and standard deviation of ImageNet's RGB images, which the pretrained
# backbones expect their inputs normalised with.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

PRETRAINED_HELP = (
    "Could not load the ImageNet weights of {name!r} (see the error above).\n"
    "  * Without internet, build the model with pretrained=False (SWSSL's command line: --no-pretrained;\n"
    "    the comparison: --no-pretrained); it then starts from random weights.\n"
    "  * Or pre-download the weights once on a machine with internet, e.g.\n"
    "      python -c \"import torchvision; torchvision.models.get_model('{name}', weights='DEFAULT')\"\n"
    "    and copy the file it saves ({file}) into {cache} on this machine\n"
    "    (the folder is $TORCH_HOME/hub/checkpoints, by default ~/.cache/torch/hub/checkpoints)."
)


def build_resnet(name: str = "wide_resnet50_2", pretrained: bool = True) -> nn.Module:
    """A torchvision ResNet, with its ImageNet weights when ``pretrained``; never a silent fallback."""
    if name not in torchvision.models.list_models(torchvision.models):
        raise ValueError(f"unknown backbone {name!r}; use a torchvision ResNet such as "
                         "'resnet18', 'resnet50' or 'wide_resnet50_2'")
    weights = torchvision.models.get_model_weights(name).DEFAULT if pretrained else None
    try:
        resnet = torchvision.models.get_model(name, weights=weights)
    except (OSError, RuntimeError) as err:  # URLError is an OSError; a bad download a RuntimeError
        file = weights.url.rsplit("/", 1)[-1]
        cache = f"{torch.hub.get_dir()}/checkpoints"
        raise RuntimeError(PRETRAINED_HELP.format(name=name, file=file, cache=cache)) from err
    if not (hasattr(resnet, "conv1") and hasattr(resnet, "fc")):
        raise ValueError(f"backbone {name!r} is not a ResNet (it needs conv1 and fc)")
    return resnet
