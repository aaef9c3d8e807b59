"""`python -m sagan_lib --mode predict`: score new images with a trained generator, without labels.

    python -m sagan_lib --mode predict --checkpoint RUN/last.ckpt --input FOLDER_OR_FILES --save_dir OUT \
        [--specificity 0.95 | --threshold_from REPORT.json --cutoff authors|youden | --threshold X]

Every input takes the test split's path (`MedADTestSet`): read as grey by `anomaly_lib.images`
(any size, 8 or 16 bits, DICOM), resized bilinearly to `image_size`, mapped to [-1, 1]. So a file
scores here exactly as it does in `--mode test`; the score is per file (`--mode test` also
averages the scores of files sharing an id, `name__slice`, which predict does not).

The network settings (`image_size`, `num_patch`, `g_conv_dim`, `g_repeat_num`) come from the
run: `last.ckpt` holds its config, and the run folder's `calibration.json` holds them for the
plain `{N}-G.ckpt` / `best-G.ckpt` files beside it. Only for a plain state dict without a run
folder (the authors' `SAGAN_G_*.ckpt`) do the flags give them. The outputs, the thresholds and
the heatmap colours are described in `anomaly_lib.predictions` and `anomaly_lib.thresholds`.
"""

import time
from pathlib import Path

import numpy as np
import torch

from anomaly_lib.calibration import (
    CALIBRATION_FILE,
    describe_entries,
    read_calibration,
    stored_heldout_scores,
    weights_fingerprint,
)
from anomaly_lib.checkpoints import load_checkpoint_file
from anomaly_lib.device import pick_device
from anomaly_lib.heatmaps import shared_scale
from anomaly_lib.images import ImageLoadError, load_grayscale
from anomaly_lib.predictions import (
    PREDICT_FILES,
    check_predict_flags,
    collect_inputs,
    refuse_old_predictions,
    write_predictions,
)
from anomaly_lib.runs import check_writable, claim_run_folder
from anomaly_lib.thresholds import choose_threshold

from .commands import config_from_args
from .data import to_model_range
from .scoring import reconstruct, score_images
from .train import PREDICT_SETTINGS, SCORING
from .weights import generator_from_checkpoint

BATCH_SIZE = 64  # images per generator call, as in score_images
MAP_LABEL = "pixel anomaly |x − G(x)| / 2 (the image score is its mean)"


def run_settings(checkpoint, calibration) -> tuple[dict, str]:
    """The training run's network settings and where they were found; ({}, None) if nowhere."""
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get("config"), dict):
        saved = checkpoint["config"]
        return {name: saved[name] for name in PREDICT_SETTINGS if name in saved}, "the checkpoint's config"
    if calibration is not None:
        saved = calibration["settings"]
        return {name: saved[name] for name in PREDICT_SETTINGS if name in saved}, calibration["path"]
    return {}, None


def predict_config(args, settings: dict, where):
    """The config to predict with: the run's settings; a flag that contradicts them is refused."""
    given = {name: getattr(args, name) for name in PREDICT_SETTINGS if hasattr(args, name)}
    conflicts = [f"--{name} {value} (the run used {settings[name]})" for name, value in given.items()
                 if name in settings and value != settings[name]]
    if conflicts:
        raise ValueError("; ".join(conflicts) + f": predict prepares the inputs and builds the generator as the "
                         f"run did ({where}); leave these flags out")
    return config_from_args(args, **settings)


@torch.no_grad()
def score_with_maps(generator, images: torch.Tensor, num_patch: int, device) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, H, W) → scores (N,) and difference maps (N, H, W), as `score_images` computes them."""
    scores, maps = [], []
    for chunk in images.split(BATCH_SIZE):
        _, difference = reconstruct(generator, to_model_range(chunk).unsqueeze(1).to(device), num_patch)  # (B, 1, H, W)
        scores.append(difference.mean(dim=(1, 2, 3)).cpu())
        maps.append(difference[:, 0].cpu())  # (B, H, W)
    return torch.cat(scores).numpy(), torch.cat(maps).numpy()


def heldout_scores(calibration, generator, config, checkpoint: Path, device, progress=True, log=print):
    """The held-out normal scores of these weights: stored by training, or scored now from the
    files `calibration.json` lists. Returns `(scores, where they come from)`."""
    if calibration is None:
        raise FileNotFoundError(
            f"--specificity needs the held-out normal scores that training stores beside the checkpoint, in "
            f"{checkpoint.parent / CALIBRATION_FILE}, and there is none (a run trained with --holdout reference or "
            "by an older kit, or a checkpoint without its run folder). Give --threshold X or --threshold_from "
            "REPORT.json --cutoff authors|youden instead.")
    where = calibration["path"]
    stored = stored_heldout_scores(calibration, weights_fingerprint(generator.state_dict()), SCORING)
    if stored is not None:
        return stored, where
    files = calibration.get("heldout_files") or []
    if not files:
        raise ValueError(f"{where} lists no held-out files to score")
    log(f"{where} holds held-out scores for {describe_entries(calibration)}, not for the weights in "
        f"{checkpoint}; scoring its {len(files)} held-out normals now")
    try:
        images = load_grayscale(files, config.image_size, "bilinear", desc="held-out normals", progress=progress)
    except ImageLoadError as error:
        raise ValueError(f"--specificity: the held-out normals listed in {where} cannot all be read\n{error}") from None
    with torch.no_grad():  # scored as training scored them (SaganTrainer.heldout_scores)
        normals = to_model_range(torch.from_numpy(images)).unsqueeze(1).to(device)  # (V, 1, H, W)
        scores = score_images(generator, normals, config.num_patch).cpu().tolist()
    return scores, f"{where}, scored now"


def run_predict(args, progress: bool = True, log=print) -> dict:
    """Score `--input` with `--checkpoint`, decide with the threshold asked for, write `--save_dir`."""
    started = time.time()
    check_predict_flags(args)
    checkpoint, save_dir = Path(args.checkpoint), Path(args.save_dir)
    refuse_old_predictions(save_dir, args.overwrite)
    check_writable(save_dir)
    inputs = collect_inputs(args.input, skip=save_dir)
    state = load_checkpoint_file(checkpoint, what="generator checkpoint")
    calibration = read_calibration(checkpoint.parent, method="sagan")
    settings, where = run_settings(state, calibration)
    config = predict_config(args, settings, where)
    device = pick_device(config.device)
    generator = generator_from_checkpoint(state, checkpoint, conv_dim=config.g_conv_dim,
                                          repeat_num=config.g_repeat_num, num_memory=config.num_memory)
    generator = generator.to(device).eval()
    threshold = choose_threshold(
        args, lambda: heldout_scores(calibration, generator, config, checkpoint, device, progress, log),
        checkpoint=checkpoint)

    with claim_run_folder(save_dir, PREDICT_FILES, overwrite=args.overwrite, log=log):
        images = torch.from_numpy(load_grayscale(inputs, config.image_size, "bilinear", desc="input images",
                                                 progress=progress))  # (N, H, W) uint8
        scores, maps = score_with_maps(generator, images, config.num_patch, device)
        scale = shared_scale(threshold.value if threshold else None, largest=float(maps.max()), centre=False)
        info = {"method": "sagan", "checkpoint": str(checkpoint),
                "settings": {**{name: getattr(config, name) for name in PREDICT_SETTINGS},
                             "resize": "bilinear to image_size, then [-1, 1] (as --mode test)"},
                "settings_from": where or "the flags (no run settings found with the checkpoint)"}
        return write_predictions(save_dir, inputs, scores, images.numpy(), lambda i: maps[i], threshold, scale,
                                 MAP_LABEL, info, started, progress, log)
