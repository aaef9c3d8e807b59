"""The authors' augmentation recipes for the two views of a patch, and the inversion.

Patches are grayscale uint8 tensors (1, h, w). The augmentations run on that single channel;
``Grayscale(3)`` repeats it to the RGB input the ImageNet backbone expects, as the authors'
``convert('RGB')`` does, before the normalisation.

* chest: ColorJitter(brightness 0.4, contrast 0.4) with p = 0.8, Gaussian blur (sigma in
  [0.1, 2]) with p = 0.1, solarisation with p = 0.2, then normalisation to [-1, 1].
* DBT: the same with blur p = 1, no solarisation and ImageNet normalisation.

The second view of a patch is the augmented *inverted* patch, ``255 − patch``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torchvision.transforms import v2

from anomaly_lib.backbones import IMAGENET_MEAN, IMAGENET_STD

BLUR_KERNEL = 13  # odd and ≥ 6·sigma_max + 1, so sigma up to 2 is not truncated


@dataclass(frozen=True)
class Recipe:
    """The random parts and the normalisation of one dataset's augmentation."""

    name: str
    blur_p: float
    solarize_p: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def normalize(self, channels: int = 3) -> v2.Normalize:
        if channels not in (1, 3):
            raise ValueError(f"images have 1 or 3 channels, got {channels}")
        if channels == 1:
            return v2.Normalize([sum(self.mean) / 3], [sum(self.std) / 3])
        return v2.Normalize(list(self.mean), list(self.std))


CHEST = Recipe("chest", blur_p=0.1, solarize_p=0.2, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
DBT = Recipe("dbt", blur_p=1.0, solarize_p=0.0, mean=IMAGENET_MEAN, std=IMAGENET_STD)
RECIPES = {"chest": CHEST, "dbt": DBT}


def get_recipe(category: str) -> Recipe:
    if category not in RECIPES:
        raise ValueError(f"category must be one of {sorted(RECIPES)}, got {category!r}")
    return RECIPES[category]


def augmentation(recipe: Recipe, channels: int = 3) -> v2.Compose:
    """uint8 patch (1, h, w) → augmented, normalised float view (channels, h, w)."""
    return v2.Compose([
        v2.RandomApply([v2.ColorJitter(brightness=0.4, contrast=0.4)], p=0.8),
        v2.RandomApply([v2.GaussianBlur(BLUR_KERNEL, sigma=(0.1, 2.0))], p=recipe.blur_p),
        v2.RandomSolarize(threshold=128, p=recipe.solarize_p),
        v2.ToDtype(torch.float32, scale=True),  # [0, 255] → [0, 1]
        v2.Grayscale(num_output_channels=channels),  # (channels, h, w)
        recipe.normalize(channels),
    ])


def to_model_input(recipe: Recipe, channels: int = 3, normalize: bool = True) -> v2.Compose:
    """uint8 image (1, h, w) → float (channels, h, w), normalised like the views or left in [0, 1]."""
    steps = [v2.ToDtype(torch.float32, scale=True), v2.Grayscale(num_output_channels=channels)]
    if normalize:
        steps.append(recipe.normalize(channels))
    return v2.Compose(steps)


def invert(patch: torch.Tensor) -> torch.Tensor:
    """The negative of a uint8 image, ``255 − patch``: the source of the second view."""
    return 255 - patch
