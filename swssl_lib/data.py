"""Chest X-ray and DBT datasets for SWSSL, in patch mode (training) and full mode (scoring).

Layouts (read by ``anomaly_lib.layouts``):

* chest: ``ROOT/{train,test}/{0.normal,1.abnormal}``, or the public release's
  ``NORMAL`` / ``PNEUMONIA`` folders. Only normal images are used for training.
* DBT: ``ROOT/images-normal-unique/{train,val}`` and ``ROOT/images-tumor-full/val``.

Images are read as grey, resized with Lanczos (the authors' ``ANTIALIAS``) to 1024×1024
(chest) or 1024×768 = height × width (DBT), and held as one uint8 array (N, H, W), 1 MiB per
chest image: the 1,349 normal training images of the chest release (``CHEST_XRAY_COUNTS``) take
about 1.4 GB. With ``preload=False`` each image is read from disk when it is needed instead. The
grey channel is repeated to RGB on the fly.

Normalisation (``normalization``):

* ``"default"``: the views, the neighbour and the full images are all normalised the same way.
* ``"reference"``: as the authors, only the two views are normalised; the neighbour and the
  full images stay in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from anomaly_lib.images import as_height_width, load_grayscale
from anomaly_lib.layouts import read_chest, read_dbt

from .augment import augmentation, get_recipe, invert, to_model_input
from .sampling import sample_patch_pair

DEFAULT_IMAGE_SIZES = {"chest": (1024, 1024), "dbt": (1024, 768)}  # (height, width)
# Images per folder of the pediatric chest X-ray release the kit reads (Kermany et al., Cell
# 172(5):1122-1131, 2018; Mendeley Data rscbjbr9sj version 2, ChestXRay2017.zip). SWSSL trains on
# train/NORMAL only. The common Kaggle copy moves 8 normal and 8 pneumonia training images into a
# val/ folder, leaving 1,341 + 3,875 = 5,216 in train/.
CHEST_XRAY_COUNTS = {"train_normal": 1349, "train_abnormal": 3883, "test_normal": 234, "test_abnormal": 390}
NORMALIZATIONS = ("default", "reference")
PHASE_SPLITS = {"train": ("train_normal",), "test": ("test_normal", "test_abnormal")}
PHASE_SPLITS["val"] = PHASE_SPLITS["test"]  # the authors call the DBT test split "val"
LAYOUT_READERS = {"chest": read_chest, "dbt": read_dbt}


@dataclass
class ImageSet:
    """Grey images of one split: paths, labels (0 normal, 1 abnormal) and their size.

    ``pixels`` is uint8 (N, H, W) when preloaded, else None and images are read on demand.
    """

    paths: list[Path]
    labels: list[int]
    size: tuple[int, int]  # (height, width)
    pixels: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.paths)

    def take(self, part: slice) -> ImageSet:
        """The images in ``part`` as a set of their own (sharing the pixels)."""
        pixels = None if self.pixels is None else self.pixels[part]
        return ImageSet(self.paths[part], self.labels[part], self.size, pixels)

    def image(self, index: int) -> torch.Tensor:
        """Image ``index`` as uint8 (H, W)."""
        if self.pixels is not None:
            return self.pixels[index]
        array = load_grayscale([self.paths[index]], self.size, resample="lanczos", progress=False)
        return torch.from_numpy(array[0])  # (H, W)


def read_images(
    root, category: str, phase: str, image_size=None, preload: bool = True,
    workers: int | None = None, progress: bool = True,
) -> ImageSet:
    """The images of ``phase`` ("train", or "test"/"val": normal first, then abnormal)."""
    if category not in LAYOUT_READERS:
        raise ValueError(f"category must be one of {sorted(LAYOUT_READERS)}, got {category!r}")
    if phase not in PHASE_SPLITS:
        raise ValueError(f"phase must be one of {sorted(PHASE_SPLITS)}, got {phase!r}")
    size = as_height_width(image_size if image_size is not None else DEFAULT_IMAGE_SIZES[category])
    splits = LAYOUT_READERS[category](root)
    paths, labels = [], []
    for split in PHASE_SPLITS[phase]:
        paths += splits[split]
        labels += [int(split.endswith("_abnormal"))] * len(splits[split])
    pixels = None
    if preload:
        array = load_grayscale(paths, size, resample="lanczos", workers=workers,
                               desc=f"{category} {phase} images", progress=progress)
        pixels = torch.from_numpy(array)  # (N, H, W) uint8
    return ImageSet(paths, labels, size, pixels)


def patch_grid_problem(image_size, patch_size: int, step_size: int) -> str | None:
    """Why training cannot draw patch pairs from images of ``image_size`` (H, W) that are large
    enough for one patch and step, naming the flags; None when it can. The grid has
    ``(side − patch) // step`` starts per side (the authors skip the last one), and a training
    patch needs a *different* grid patch near it, so the grid needs 2 cells at least."""
    height, width = image_size
    flags = f"--image_size {height}×{width} with --patch_size {patch_size} and --step_size {step_size}"
    rows, cols = ((side - patch_size) // step_size for side in (height, width))
    if min(rows, cols) >= 1 and rows * cols < 2:  # (fewer than 1 per side: too small, refused elsewhere)
        smaller = (max(height, width) - patch_size) // 2
        hint = f"a --step_size of at most {smaller}" if smaller >= 1 else "a smaller --patch_size"
        return (f"{flags} gives a grid of {rows}×{cols} training patch ((side − patch) // step per side, as the "
                "authors), so no neighbouring patch can be drawn for training: one side needs ≥ patch + 2·step "
                f"= {patch_size + 2 * step_size}; use {hint}, or larger images")
    return None


class SWSSLDataset(Dataset):
    """Items of an ``ImageSet`` in one of two modes.

    * patch mode (``patch=True``): ``(view1, inverted_view2, neighbour, similarity)``, where
      view1 is an augmented grid patch, view2 the augmented inverted patch, neighbour a
      different grid patch within ±3 steps (not augmented) and similarity its target.
    * full mode: ``(image, label)`` with image float (channels, H, W).
    """

    def __init__(
        self,
        images: ImageSet,
        patch: bool = False,
        patch_size: int = 128,
        step_size: int = 32,
        category: str = "chest",
        normalization: str = "default",
        channels: int = 3,
    ):
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
        height, width = images.size
        if patch and (height < patch_size + step_size or width < patch_size + step_size):
            raise ValueError(f"images of {height}×{width} are too small for patch {patch_size} "
                             f"and step {step_size} (each side needs ≥ {patch_size + step_size})")
        problem = patch_grid_problem(images.size, patch_size, step_size) if patch else None
        if problem:
            raise ValueError(problem)
        recipe = get_recipe(category)
        self.images = images
        self.patch = patch
        self.patch_size = patch_size
        self.step_size = step_size
        self.normalization = normalization
        self.augment = augmentation(recipe, channels)
        # what the neighbour and the full images get: normalised, or [0, 1] as the authors
        self.to_input = to_model_input(recipe, channels, normalize=normalization == "default")

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        image = self.images.image(index)  # (H, W) uint8
        if not self.patch:
            return self.to_input(image[None]), self.images.labels[index]  # (C, H, W), int

        p, s = self.patch_size, self.step_size
        pair = sample_patch_pair(image, p, s, name=str(self.images.paths[index]))
        top, left = pair.pixel_start(s)
        patch = image[None, top : top + p, left : left + p]  # (1, p, p)
        top, left = pair.neighbour_pixel_start(s)
        neighbour = image[None, top : top + p, left : left + p]  # (1, p, p)
        view1 = self.augment(patch)  # (C, p, p)
        view2 = self.augment(invert(patch))  # (C, p, p), independent random draws
        similarity = torch.tensor(pair.similarity, dtype=torch.float32)
        return view1, view2, self.to_input(neighbour), similarity


class ChestDataset(SWSSLDataset):
    """The pediatric chest X-ray set, ``phase`` "train" or "test" (see ``SWSSLDataset``)."""

    def __init__(self, root, phase: str = "train", patch: bool = False, patch_size: int = 128,
                 step_size: int = 32, image_size=1024, normalization: str = "default",
                 preload: bool = True, channels: int = 3, progress: bool = True):
        images = read_images(root, "chest", phase, image_size, preload, progress=progress)
        super().__init__(images, patch, patch_size, step_size, "chest", normalization, channels)


class DBTDataset(SWSSLDataset):
    """Breast tomosynthesis slices, ``phase`` "train" or "val" (see ``SWSSLDataset``)."""

    def __init__(self, root, phase: str = "train", patch: bool = False, patch_size: int = 128,
                 step_size: int = 32, image_size=(1024, 768), normalization: str = "default",
                 preload: bool = True, channels: int = 3, progress: bool = True):
        images = read_images(root, "dbt", phase, image_size, preload, progress=progress)
        super().__init__(images, patch, patch_size, step_size, "dbt", normalization, channels)


def full_image_loader(images: ImageSet, category: str, normalization: str, batch_size: int,
                      num_workers: int = 0) -> DataLoader:
    """Whole images (``SWSSLDataset`` full mode), normalised for ``category``, in order."""
    dataset = SWSSLDataset(images, patch=False, category=category, normalization=normalization)
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
