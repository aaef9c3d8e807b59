"""SWSSL as a registered method (`anomaly_lib.method`): its settings, step, and how a comparison
trains and scores one run."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from anomaly_lib.method import Method, register

from .cli import main
from .train import RUN_FILES, TrainConfig, train_step

# SWSSL on a Med-AD folder reads the images at its own size, twice the others' 64 px, so that a
# window covers a sixteenth of the image and 6×6 of them tile it (the paper: 1024², patch 128,
# step 32, 28×28 windows). Its maps are shrunk to the comparison's size for the pixel metrics.
ON_MEDAD = {"image_size": 128, "patch_size": 32, "step_size": 16, "backbone": "resnet18", "batch_size": 64,
            "lr": 1e-4}
SETTING_TYPES = {"image_size": int, "patch_size": int, "step_size": int, "backbone": str, "batch_size": int,
                 "lr": float}


def trains_on(settings) -> str:
    return "chest folder normals (own split)" if settings.chest_root else "labeled normals"


def comparison_images(data, settings, size: tuple):
    """SWSSL's training and test images at ``size``: the chest folder's, or the Med-AD split's with
    the test labels withheld (all 0 here, never used)."""
    import torch

    from anomaly_lib.images import load_grayscale

    from .data import ImageSet, read_images

    if settings.chest_root:
        return tuple(read_images(settings.chest_root, "chest", split, size, progress=settings.progress)
                     for split in ("train", "test"))

    def image_set(paths):
        pixels = load_grayscale(paths, size, resample="lanczos", progress=settings.progress)
        return ImageSet(list(paths), [0] * len(paths), size, torch.from_numpy(pixels))

    return image_set(data.normal_paths), image_set(data.test_paths)


def run_for_comparison(variant: str, data, settings, seed: int, run_dir: Path, device):
    """SWSSL from its pieces: train on normal patches, bank the normal windows, the authors' scoring;
    on a Med-AD split also the patch_knn maps, for the pixel metrics."""
    import numpy as np
    import torch
    from torch.utils.data import DataLoader

    from anomaly_lib.compare import OwnTest, WithMaps
    from anomaly_lib.images import as_height_width

    from .bank import build_feature_bank
    from .data import SWSSLDataset
    from .evaluate import extract_test_features, scores_per_image
    from .model import PatchModel, fold_batchnorm
    from .scoring import patch_map_to_pixels
    from .train import fit, patch_loader

    values = {**ON_MEDAD, **settings.swssl}
    if settings.chest_root:  # the paper's setting on a chest folder, unless changed
        values = {**asdict(TrainConfig()), **settings.swssl}
    size = as_height_width(values["image_size"])
    config = TrainConfig(image_size=size, patch_size=values["patch_size"], step_size=values["step_size"],
                         batch_size=values["batch_size"], lr=values["lr"], epochs=settings.budget(variant),
                         backbone=values["backbone"], pretrained=settings.pretrained, seed=seed)
    key = ("swssl", settings.chest_root, size)  # read once per comparison, not once per seed
    if key not in data.resized:
        data.resized[key] = comparison_images(data, settings, size)
    train, test = data.resized[key]
    torch.manual_seed(seed)
    model = PatchModel(backbone=config.backbone, pretrained=config.pretrained)
    patches = SWSSLDataset(train, patch=True, patch_size=config.patch_size, step_size=config.step_size)
    fit(model, patch_loader(patches, config), config, run_dir, device=device, progress=settings.progress,
        log=lambda *_: None)  # no evaluate_fn: the test set plays no part in training

    def full(images):
        return DataLoader(SWSSLDataset(images, patch=False), batch_size=16)

    folded = fold_batchnorm(model)
    bank = build_feature_bank(folded, full(train), config.patch_size, config.step_size, progress=settings.progress)
    features, _, grid = extract_test_features(folded, full(test), config.patch_size, config.step_size,
                                              progress=settings.progress)
    # The image score is the authors' (reference); on a Med-AD split the maps show where it fires:
    # each window's distance to its nearest normal window (the kit's patch_knn).
    scorings = ("reference",) if settings.chest_root else ("reference", "patch_knn")
    scores, patch_maps = scores_per_image(bank, features, grid, scorings, device=device)  # patch_maps (M, rows, cols)
    if settings.chest_root:
        return OwnTest(scores["reference"], np.asarray(test.labels), [str(p) for p in test.paths])
    # spread over the pixels each window covers; pixels no window covers count as the least abnormal
    maps = torch.from_numpy(patch_map_to_pixels(patch_maps, grid, uncovered=float(patch_maps.min())))  # (M, H, W)
    maps = torch.nn.functional.interpolate(maps[:, None], size=as_height_width(settings.image_size), mode="area")
    return WithMaps(scores["reference"], maps[:, 0].numpy())  # (M, h, w): the other methods' size


METHOD = register(Method(
    name="swssl", summary="Sliding-window self-supervised patches: k-NN distance to a bank of normal windows",
    config=TrainConfig, main=main, run_files=RUN_FILES, step=train_step,
    trains_on={"swssl": trains_on}, compare=run_for_comparison, budget=(100, "ep"),
    setting_types=SETTING_TYPES, compare_quick={"batch_size": 32},
    smoke_flags=("--epochs", "1", "--image_size", "96", "--patch_size", "32", "--step_size", "32",
                 "--batch_size", "8"),
    # an epoch draws one patch pair (and a neighbour) from every normal; a chest folder's own
    # normals are not counted here
    images_per_unit=lambda settings, variant, n_normal: None if settings.chest_root else n_normal,
    length="epochs", layout="chest",
    data_flags=lambda data, run: ["--dataset_path", data, "--category", "chest", "--save_dir", run,
                                  "--backbone", "resnet18", "--no-pretrained", "--num_workers", "0"],
))
