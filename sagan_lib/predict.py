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

The steps are the kit's one predict (`anomaly_lib.pixel_method.predict`); this file says only
how SAGAN builds its network and scores a batch.
"""

from pathlib import Path

import torch
from torch import nn

from anomaly_lib import pixel_method

from .config import SaganConfig, config_from_args
from .scoring import reconstruct
from .weights import generator_from_checkpoint

MAP_LABEL = "pixel anomaly |x − G(x)| / 2 (the image score is its mean)"
# What predict needs to build the generator and prepare its inputs, stored in calibration.json.
PREDICT_SETTINGS = ("image_size", "num_patch", "g_conv_dim", "g_repeat_num")
SCORING = "mean_difference"  # SAGAN's one image score, mean |x − G(x)| / 2


class WindowedGenerator(nn.Module):
    """The generator with the window grid it was trained on: what predict scores with."""

    def __init__(self, generator, num_patch: int):
        super().__init__()
        self.generator, self.num_patch = generator, num_patch


def score_maps(model: WindowedGenerator, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 1, H, W) in [-1, 1] → scores (N,) and maps (N, H, W), as `score_images` computes them."""
    _, difference = reconstruct(model.generator, images, model.num_patch)  # (N, 1, H, W)
    return difference.mean(dim=(1, 2, 3)), difference[:, 0]


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


def predict_model(method, state, checkpoint: Path, calibration, args) -> tuple:
    """SAGAN's network for predict: a run's last.ckpt, a snapshot beside its calibration.json, or the
    authors' plain file (then the flags give the settings)."""
    settings, where = run_settings(state, calibration)
    config = predict_config(args, settings, where)
    generator = generator_from_checkpoint(state, checkpoint, conv_dim=config.g_conv_dim,
                                          repeat_num=config.g_repeat_num, num_memory=config.num_memory)
    settings = {name: getattr(config, name) for name in PREDICT_SETTINGS}
    return WindowedGenerator(generator, config.num_patch), settings, \
        where or "the flags (no run settings found with the checkpoint)"


SPEC = pixel_method.PixelMethod(name="sagan", config=SaganConfig, make_run=None, model_from=None,
                                score_maps=score_maps, network_fields=PREDICT_SETTINGS[1:], map_label=MAP_LABEL,
                                scoring=SCORING, predict_model=predict_model,
                                weights=lambda model: model.generator.state_dict())  # named by G's own weights


def run_predict(args, progress: bool = True, log=print) -> dict:
    """Score `--input` with `--checkpoint`, decide with the threshold asked for, write `--save_dir`."""
    args.progress = progress
    return pixel_method.predict(SPEC, args, log)
