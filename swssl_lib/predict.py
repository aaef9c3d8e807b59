"""``python -m swssl_lib --mode predict``: score new images against the training feature bank.

    python -m swssl_lib --mode predict --checkpoint RUN/last.pt --input FOLDER_OR_FILES --save_dir OUT \\
        [--specificity 0.95 | --threshold_from REPORT.json --cutoff authors|youden | --threshold X]

SWSSL scores an image by comparing its windows with the windows of the normal training images,
so prediction needs more than the weights. Training writes it to ``RUN/calibration.json``
(``record_run_setup``): the settings (category, image size, patch, step, normalisation,
backbone, last window, k), the training images of the bank, the held-out normals and their
scores, and which weights built ``RUN/feature_bank.npy``. Prediction reads that file beside
``--checkpoint``; the bank is reused when the same weights built it, and otherwise built again
from the listed training images (into ``OUT/feature_bank.npy``).

Every input takes the path of the test images in ``--mode test``: read as grey by
``anomaly_lib.images``, resized with Lanczos to the run's size, normalised as the run's
``--normalization`` says (``SWSSLDataset`` in full mode), cut into the same windows. So a file
scores here exactly as it does in ``--mode test``.

Decisions use one scoring, ``--scoring patch_knn`` by default (its largest window score, on the
same scale as its map) or ``reference`` (the authors'). The heatmaps are always patch_knn's
window scores, averaged over the windows covering each pixel; they are anchored at the
threshold only when the decision is patch_knn's. Outputs: see ``anomaly_lib.predictions``.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from anomaly_lib.calibration import (
    CALIBRATION_FILE,
    describe_entries,
    read_calibration,
    stored_heldout_scores,
    update_calibration,
    weights_fingerprint,
)
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

from .bank import FeatureBank, build_feature_bank
from .data import ImageSet, full_image_loader
from .evaluate import SCORINGS, score_loader
from .model import PatchModel, fold_batchnorm
from .scoring import patch_map_to_pixels
from .train import load_checkpoint, load_weights

# The run's settings that prediction takes from calibration.json (flag names of the command line).
RUN_SETTINGS = ("category", "image_size", "patch_size", "step_size", "normalization", "backbone",
                "include_last_window", "k")
LATEST = "the last evaluated model"  # the one held-out entry an SWSSL run keeps
MAP_LABEL = ("patch_knn window score, mean over the windows covering a pixel\n"
             "(image score: the largest window); uncoloured: no window covers it")


def run_settings(args, config) -> dict:
    """The settings of a training run that prediction must repeat, as stored in calibration.json."""
    return {"category": config.category, "image_size": list(config.image_size), "patch_size": config.patch_size,
            "step_size": config.step_size, "normalization": config.normalization, "backbone": config.backbone,
            "include_last_window": bool(args.include_last_window), "k": args.k, "resize": "lanczos"}


def record_run_setup(save_dir, model, evaluation, settings: dict, train_files, heldout_files, bank_path) -> Path:
    """Write what ``--mode predict`` needs to ``SAVE_DIR/calibration.json`` after an evaluation:
    the settings, the bank's images and file (with the weights that built it), the held-out
    normals and their scores under both scorings."""
    weights = weights_fingerprint(model.state_dict())
    entry = None
    if evaluation.heldout_scores:
        entry = {"checkpoint": LATEST, "weights": weights, "k": settings["k"], "scores": evaluation.heldout_scores}
    bank = {"file": Path(bank_path).name, "weights": weights} if bank_path is not None else None
    return update_calibration(save_dir, entry, method="swssl", settings=settings,
                              heldout_files=[str(Path(p).resolve()) for p in heldout_files],
                              train_files=[str(Path(p).resolve()) for p in train_files], bank=bank)


def check_run_flags(args, defaults: dict, calibration: dict) -> None:
    """Refuse flags that would change what the run fixed (the windows, the model, k)."""
    given = [name for name in RUN_SETTINGS if getattr(args, name) != defaults[name]]
    if given:
        stored = calibration["settings"]
        raise ValueError(", ".join(f"--{name} (the run used {stored.get(name)})" for name in given)
                         + f": --mode predict takes these from the training run, {calibration['path']}; "
                           "leave them out")


def find_run(checkpoint: Path) -> dict:
    """The calibration.json beside ``checkpoint``, or an error naming what is missing."""
    calibration = read_calibration(checkpoint.parent, method="swssl")
    if calibration is None:
        raise FileNotFoundError(
            f"SWSSL predicts against the feature bank of its training images, and {checkpoint.parent / CALIBRATION_FILE}"
            ", which names them and the settings (image size, patch, step, backbone, normalisation), does not "
            "exist. `python -m swssl_lib --mode train` writes it beside last.pt; keep the checkpoint in its run "
            "folder (a run from an older kit: train again)")
    missing = [key for key in ("train_files", "heldout_files") if key not in calibration] + \
              [name for name in RUN_SETTINGS if name not in calibration["settings"]]
    if missing:
        raise ValueError(f"{calibration['path']} lacks {', '.join(missing)}; train again to write it")
    return calibration


def image_set(files, settings: dict, what: str, progress: bool) -> ImageSet:
    """Files read and resized as the run's images were, held in memory."""
    size = tuple(settings["image_size"])
    pixels = load_grayscale(files, size, resample="lanczos", desc=what, progress=progress)
    return ImageSet([Path(f) for f in files], [0] * len(files), size, torch.from_numpy(pixels))


def loader(images: ImageSet, settings: dict, args) -> DataLoader:
    """Full images, normalised as in the run, in ``--eval_batch_size`` batches."""
    return full_image_loader(images, settings["category"], settings["normalization"], args.eval_batch_size,
                             args.num_workers)


def open_bank(calibration: dict, weights: str, model, args, save_dir: Path, progress, log) -> FeatureBank:
    """The run's feature bank when these weights built it, else one built now from its training images."""
    settings, folder = calibration["settings"], Path(calibration["path"]).parent
    stored = calibration.get("bank")
    path = folder / stored["file"] if stored else None
    if stored and stored.get("weights") == weights and path.is_file():
        bank = FeatureBank.open(path)
        if len(bank) == len(calibration["train_files"]):
            return bank
    why = ("was kept in memory (--bank_in_memory)" if not stored else
           f"{path} was built with other weights" if stored.get("weights") != weights else f"{path} is missing")
    files = calibration["train_files"]
    log(f"the training feature bank {why}; building it from the {len(files)} training images listed in "
        f"{calibration['path']}")
    try:
        images = image_set(files, settings, "training images", progress)
    except ImageLoadError as error:
        raise ValueError(f"the training images listed in {calibration['path']} are needed to build the "
                         f"feature bank, and cannot all be read\n{error}") from None
    return build_feature_bank(model, loader(images, settings, args), settings["patch_size"], settings["step_size"],
                              path=save_dir / "feature_bank.npy", chunk_size=args.window_chunk,
                              include_last=settings["include_last_window"], progress=progress)


def score_images(images: ImageSet, bank, model, settings: dict, scoring: str, args, progress, maps: bool = True):
    """Scores of ``scoring`` (M,) and, with ``maps``, the patch_knn window maps (M, rows, cols) of
    ``images`` (None without), with the grid."""
    scorings = dict.fromkeys([scoring, "patch_knn"] if maps else [scoring])  # the maps are always patch_knn's
    _, scores, patch_maps, grid = score_loader(model, loader(images, settings, args), bank, scorings,
                                               settings["patch_size"], settings["step_size"], settings["k"],
                                               args.window_chunk, settings["include_last_window"], progress)
    return scores[scoring], patch_maps, grid


def heldout_scores(calibration, weights, bank, model, scoring, args, progress, log):
    """The held-out normal scores of these weights: stored by training, or scored now. ``(scores, where)``."""
    where = calibration["path"]
    stored = stored_heldout_scores(calibration, weights, scoring, k=calibration["settings"]["k"])
    if stored is not None:
        return stored, where
    files = calibration["heldout_files"]
    if not files:
        raise ValueError(f"--specificity needs held-out normal images, and {where} lists none: the run was "
                         "trained with --holdout reference. Give --threshold X or --threshold_from REPORT.json "
                         "--cutoff authors|youden instead.")
    log(f"{where} holds held-out scores for {describe_entries(calibration)}, not for these weights; scoring its "
        f"{len(files)} held-out normals now")
    try:
        images = image_set(files, calibration["settings"], "held-out normals", progress)
    except ImageLoadError as error:
        raise ValueError(f"--specificity: the held-out normals listed in {where} cannot all be read\n{error}") from None
    scores, _, _ = score_images(images, bank, model, calibration["settings"], scoring, args, progress, maps=False)
    return scores.tolist(), f"{where}, scored now"


def run_predict(args, defaults: dict, log=print) -> dict:
    """Score ``--input`` with ``--checkpoint`` against its run's bank, decide, write ``--save_dir``.

    ``defaults``: the command line's default values, to tell the flags given from those left out.
    """
    started = time.time()
    check_predict_flags(args)
    scoring = args.scoring or "patch_knn"
    if scoring not in SCORINGS:
        raise ValueError(f"--mode predict decides on one scoring: --scoring reference or patch_knn, not {scoring}")
    checkpoint, save_dir, progress = Path(args.checkpoint), Path(args.save_dir), args.progress
    refuse_old_predictions(save_dir, args.overwrite)
    check_writable(save_dir)
    inputs = collect_inputs(args.input, skip=save_dir)
    calibration = find_run(checkpoint)
    check_run_flags(args, defaults, calibration)
    settings = calibration["settings"]
    saved = load_checkpoint(checkpoint)
    model = load_weights(PatchModel(backbone=settings["backbone"], pretrained=False), saved, checkpoint)
    weights = weights_fingerprint(model.state_dict())
    device = pick_device(args.device)
    model = fold_batchnorm(model.to(device))  # as evaluate(): the same features, faster

    with claim_run_folder(save_dir, PREDICT_FILES, overwrite=args.overwrite, log=log):
        bank = open_bank(calibration, weights, model, args, save_dir, progress, log)
        threshold = choose_threshold(
            args, lambda: heldout_scores(calibration, weights, bank, model, scoring, args, progress, log),
            scoring=scoring, checkpoint=checkpoint)
        images = image_set(inputs, settings, "input images", progress)
        scores, patch_maps, grid = score_images(images, bank, model, settings, scoring, args, progress)
        anchor = threshold.value if threshold and scoring == "patch_knn" else None
        scale = shared_scale(anchor, largest=float(patch_maps.max()))
        label = MAP_LABEL if anchor is not None or threshold is None else \
            MAP_LABEL + "\n(not anchored: the decision uses the reference score, which has no map)"
        info = {"method": "swssl", "checkpoint": str(checkpoint), "scoring": scoring,
                "settings": settings, "settings_from": calibration["path"]}
        return write_predictions(save_dir, inputs, scores, images.pixels.numpy(),
                                 lambda i: patch_map_to_pixels(patch_maps[i:i + 1], grid)[0], threshold, scale,
                                 label, info, started, progress, log)
