"""The whole command line of a method that learns from a Med-AD folder's labeled normals and
scores every pixel, written once: train (and resume), test, predict (thresholds from held-out
normals, overlays) and a demo on phantoms.

A method describes itself with a `PixelMethod` and gets `main(argv)`:

    config          a dataclass of its settings; every field becomes a ``--flag``. It must have
                    data_root, image_size, save_dir, seed, device, holdout, val_holdout,
                    num_iters, log_step and model_save_step.
    make_run        ``(config, normals (N, 1, H, W) in [-1, 1], device, log) -> PixelRun``
    model_from      ``(checkpoint dict, config) -> nn.Module``: the scoring network of a saved run
    score_maps      ``(model, images (N, 1, H, W) in [-1, 1]) -> (scores (N,), maps (N, H, W))``
    network_fields  the config fields that shape the network (predict repeats them from the run)

The run folder (``--save_dir``) holds ``last.ckpt`` (the engine's resumable checkpoint) and
``calibration.json`` (held-out normal scores, for ``--mode predict --specificity``); testing
writes ``results/report.json`` and two figures. Every input is read grey by `anomaly_lib.images`,
resized bilinearly to ``image_size`` and mapped to [-1, 1], in training, testing and prediction
alike.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from . import distributed
from .calibration import (
    CALIBRATION_FILE,
    describe_entries,
    heldout_count,
    read_calibration,
    stored_heldout_scores,
    update_calibration,
    weights_fingerprint,
)
from .checkpoints import load_checkpoint_file, refuse_non_finite_weights
from .cli import run_command
from .device import pick_device
from .engine import Run, add_config_flags, add_run_flags, check_resume, train_loop
from .files import following_symlinks
from .heatmaps import shared_scale
from .images import ImageLoadError, load_grayscale
from .layouts import read_medad
from .medad import (
    DEMO_COUNTS,
    DEMO_LESION_SCALE,
    MedADTestSet,
    average_by_id,
    check_nonempty,
    to_model_range,
)
from .metrics import roc_report
from .predictions import (
    PREDICT_FILES,
    check_finite_scores,
    check_predict_flags,
    collect_inputs,
    refuse_old_predictions,
    write_predictions,
)
from .runs import check_writable, claim_run_folder
from .splits import check_splits
from .thresholds import choose_threshold

RUN_FILES = ("last.ckpt", CALIBRATION_FILE)
SCORING = "mean_map"  # the image score: the mean of its pixel map


@dataclass(frozen=True)
class PixelMethod:
    name: str
    config: type
    make_run: Callable
    model_from: Callable
    score_maps: Callable
    network_fields: tuple
    map_label: str
    demo: dict = None  # the demo's changes to the config: minutes on a CPU
    scoring: str = SCORING  # the name its held-out scores are stored under in calibration.json
    predict_model: Callable = None  # (method, state, path, calibration, args) -> (model, settings, where); run_model
    weights: Callable = None  # model -> the state dict its calibration entries are named by (default: its own)


class PixelRun(Run):
    """A `Run` whose scoring network is `self.model`: after each checkpoint it scores the held-out
    normals (`self.heldout`, (V, 1, H, W) in [-1, 1]) and stores them in calibration.json, beside
    the checkpoint (`anomaly_lib.calibration`)."""

    def __init__(self, method: PixelMethod, config, model, folder, log=print):
        super().__init__(config, Path(folder) / "last.ckpt", log)
        self.method, self.model = method, model
        self.heldout, self.heldout_paths = torch.zeros(0), []  # (V, 1, H, W) in [-1, 1], their files
        self._heldout_scored = None  # (units done, weights fingerprint, scores) last computed

    def saved(self, path: Path) -> None:
        if distributed.is_main():
            self.record_heldout(path.name)

    def record_heldout(self, checkpoint_name: str):
        """Store the held-out scores of the current weights for `checkpoint_name`; nothing without
        held-out normals. Two checkpoints written at one unit (last, best) hold the same weights:
        they are scored once."""
        if not len(self.heldout):
            return None
        if self._heldout_scored is None or self._heldout_scored[0] != self.done:
            scores, _ = scored(self.method, self.model, self.heldout)
            self._heldout_scored = (self.done, weights_fingerprint(weights_of(self.method, self.model)),
                                    scores.tolist())
        _, weights, scores = self._heldout_scored
        entry = {"checkpoint": checkpoint_name, "weights": weights, self.unit_key: self.done,
                 "scores": {self.method.scoring: scores}}
        return update_calibration(self.checkpoint_path.parent, entry, method=self.method.name,
                                  settings=run_settings(self), scoring=self.method.scoring,
                                  heldout_files=[str(Path(p).resolve()) for p in self.heldout_paths])


def weights_of(method: PixelMethod, model) -> dict:
    """The weights that name a model in calibration.json: its state dict, or what `method.weights` picks."""
    return method.weights(model) if method.weights else model.state_dict()


def run_settings(run) -> dict:
    return {**{name: getattr(run.config, name) for name in ("image_size", *run.method.network_fields)},
            "resize": "bilinear", "value_range": [-1, 1]}


@torch.no_grad()
def scored(method: PixelMethod, model, images: torch.Tensor, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 1, H, W) in [-1, 1] → scores (N,) and maps (N, H, W), in eval mode, in batches."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    parts = [method.score_maps(model, chunk.to(device)) for chunk in images.split(batch_size)]
    model.train(was_training)
    return torch.cat([s for s, _ in parts]).cpu().numpy(), torch.cat([m for _, m in parts]).cpu().numpy()


def read_images(paths, size: int, what: str, progress: bool) -> tuple[np.ndarray, torch.Tensor]:
    """Grey files, resized bilinearly (as every method here sees them): uint8 (N, H, W) and the same
    as (N, 1, H, W) in [-1, 1]."""
    pixels = load_grayscale(paths, size, "bilinear", desc=what, progress=progress)
    return pixels, to_model_range(torch.from_numpy(pixels)).unsqueeze(1)


# ---------------------------------------------------------------------------- the command line


def build_parser(method: PixelMethod) -> argparse.ArgumentParser:
    """One flag per config field and the flags every method shares (`anomaly_lib.engine`)."""
    parser = argparse.ArgumentParser(prog=f"python -m {method.name}_lib", description=method.config.__doc__)
    parser.add_argument("--mode", choices=["train", "test", "predict", "demo"], default="train")
    add_config_flags(parser, method.config)
    add_run_flags(parser, "SAVE_DIR", "last.ckpt",
                  "the checkpoint to test or predict with (default: SAVE_DIR/last.ckpt)")
    return parser


def config_from(method: PixelMethod, args, **defaults):
    """The config of the flags given; flags left out keep ``defaults``, then the config's own."""
    values = {**defaults, **{f.name: getattr(args, f.name) for f in fields(method.config) if hasattr(args, f.name)}}
    return method.config(**values)


def main(method: PixelMethod, argv=None) -> int:
    """Run the command line; the exit status (one line per error, see `anomaly_lib.cli`)."""
    args = build_parser(method).parse_args(argv)
    modes = {"train": train, "test": test, "predict": predict, "demo": demo}
    with following_symlinks(args.follow_symlinks):
        return run_command(lambda: distributed.in_processes(
            args.mode, lambda: modes[args.mode](method, args), modes_in_every_process=("train",)), debug=args.debug)


# ---------------------------------------------------------------------------- the modes


def train(method: PixelMethod, args, **defaults) -> PixelRun:
    """Check the flags, the data and the run folder before any image is read; then train."""
    check_predict_flags(args)
    config = config_from(method, args, **defaults)
    resuming = check_resume(args.resume, Path(config.save_dir) / RUN_FILES[0])
    if not config.data_root or not Path(config.data_root).is_dir():
        raise FileNotFoundError(f"--data_root {config.data_root} is not a folder (a Med-AD folder: data.json, images/)")
    splits = read_medad(config.data_root)  # data.json, read once
    check_nonempty(splits, ["train_normal"], config.data_root)
    check_splits(splits, args.allow_overlap)
    normals = splits["train_normal"]
    keep = len(normals) - heldout_count(len(normals), config.holdout, config.val_holdout)
    if keep < config.batch_size:
        raise ValueError(f"--batch_size {config.batch_size} is larger than the {keep} labeled normals that train")
    device = distributed.start(pick_device(config.device))
    progress = args.progress and distributed.is_main()
    with claim_run_folder(config.save_dir, RUN_FILES, resuming, args.overwrite):
        images = read_images(normals, config.image_size, "labeled normals", progress)[1]
        torch.manual_seed(config.seed)
        run = method.make_run(config, images[:keep], device, print)
        run.heldout, run.heldout_paths = images[keep:], normals[keep:]
        if resuming:
            run.load(map_location=device)
        print(f"training {method.name} on {config.data_root}: {keep} labeled normals, {len(normals) - keep} held "
              f"out, on {device}")
        train_loop(run, config.num_iters, progress, config.log_step, config.model_save_step)
    return run


def test(method: PixelMethod, args, **defaults) -> dict:
    """Score the test split with a checkpoint: AUC/AP per id, the report, ROC/PR and heatmap figures."""
    from .figures import heatmap_panel, roc_pr_figure

    config = config_from(method, args, **defaults)
    checkpoint = Path(args.checkpoint or Path(config.save_dir) / "last.ckpt")
    results = Path(config.save_dir) / "results"
    check_writable(results)  # before the work, not after it
    state = load_checkpoint_file(checkpoint, what=f"{method.name} checkpoint")
    model, settings, _ = run_model(method, state, checkpoint, None, args)
    splits = read_medad(config.data_root)  # data.json, read once
    check_splits(splits, args.allow_overlap)
    test_set = MedADTestSet(config.data_root, settings["image_size"], progress=args.progress, splits=splits)
    images = torch.stack([test_set[i][0] for i in range(len(test_set))])  # (M, 1, H, W)
    image_scores, maps = scored(method, model.to(pick_device(config.device)).eval(), images)
    image_scores = check_finite_scores(image_scores, checkpoint)  # broken weights stop here, named
    ids, scores, labels = average_by_id(test_set.ids, image_scores, test_set.labels.tolist())
    report = roc_report(labels, scores)
    print(f"checkpoint: {checkpoint}\n{report}")
    payload = {"method": method.name, "checkpoint": str(checkpoint), **report.as_dict()}
    for path in [results / "report.json", *([Path(args.report_json)] if args.report_json else [])]:
        path.write_text(json.dumps(payload, indent=2))
    roc_pr_figure(labels, scores, report, path=results / "roc_pr.png", title=f"{method.name} on the test split")
    order = np.argsort(image_scores)[::-1]
    shown = [*order[:3], *order[-2:]]  # the three most and two least abnormal
    heatmap_panel(images[shown, 0].numpy(), maps[shown], path=results / "heatmaps.png", value_range=(-1, 1),
                  titles=[f"score {image_scores[i]:.3f}, label {int(test_set.labels[i])}" for i in shown],
                  scale=shared_scale(None, largest=float(maps[shown].max()), centre=False),  # one scale for all
                  scale_label=method.map_label)
    print(f"figures: {results / 'roc_pr.png'}  {results / 'heatmaps.png'}")
    return payload


def run_model(method: PixelMethod, state: dict, checkpoint: Path, calibration, args) -> tuple:
    """The network of a run's checkpoint for predict, the settings that prepare its inputs, and where
    they come from: the checkpoint's own config. A flag that contradicts it is refused."""
    if not isinstance(state, dict) or not isinstance(state.get("config"), dict):
        raise ValueError(f"{checkpoint} is not a {method.name} run's checkpoint (no config inside)")
    trained = method.config(**state["config"])
    settings = {name: getattr(trained, name) for name in ("image_size", *method.network_fields)}
    given = [f"--{name} {getattr(args, name)} (the run used {value})" for name, value in settings.items()
             if hasattr(args, name) and getattr(args, name) != value]
    if given:
        raise ValueError(f"{'; '.join(given)}: predict prepares the inputs and builds the network as the run did "
                         f"({checkpoint}); leave these flags out")
    model = method.model_from(state, trained)
    refuse_non_finite_weights(model.state_dict(), checkpoint)  # a diverged run's: every score would be NaN
    return model, settings, "the checkpoint's config"


def heldout_scores(method: PixelMethod, calibration, model, settings: dict, checkpoint: Path, progress=True,
                   log=print) -> tuple[list, str]:
    """The held-out normal scores of these weights and where they come from: stored by training, or
    scored now from the files calibration.json lists (another checkpoint of the run)."""
    if calibration is None:
        raise FileNotFoundError(
            f"--specificity needs the held-out normal scores that training stores beside the checkpoint, in "
            f"{checkpoint.parent / CALIBRATION_FILE}, and there is none (a run trained with --holdout reference or "
            "by an older kit, or a checkpoint without its run folder). Give --threshold X or --threshold_from "
            "REPORT.json --cutoff authors|youden instead.")
    where = calibration["path"]
    stored = stored_heldout_scores(calibration, weights_fingerprint(weights_of(method, model)), method.scoring)
    if stored is not None:
        return stored, where
    files = calibration.get("heldout_files") or []
    if not files:
        raise ValueError(f"{where} lists no held-out files to score")
    log(f"{where} holds held-out scores for {describe_entries(calibration)}, not for the weights in "
        f"{checkpoint}; scoring its {len(files)} held-out normals now")
    try:
        images = read_images(files, settings["image_size"], "held-out normals", progress)[1]
    except ImageLoadError as error:
        raise ValueError(f"--specificity: the held-out normals listed in {where} cannot all be read\n{error}") from None
    return scored(method, model, images)[0].tolist(), f"{where}, scored now"


def predict(method: PixelMethod, args, log=print) -> dict:
    """Score --input with --checkpoint, decide with the threshold asked for, write --save_dir
    (`anomaly_lib.predictions`). Inputs are prepared as in training and --mode test."""
    started = time.time()
    check_predict_flags(args)
    checkpoint, save_dir = Path(args.checkpoint), Path(args.save_dir)
    refuse_old_predictions(save_dir, args.overwrite)
    check_writable(save_dir)
    inputs = collect_inputs(args.input, skip=save_dir)
    state = load_checkpoint_file(checkpoint, what=f"{method.name} checkpoint")
    calibration = read_calibration(checkpoint.parent, method=method.name)
    model, settings, where = (method.predict_model or run_model)(method, state, checkpoint, calibration, args)
    model = model.to(pick_device(getattr(args, "device", "auto"))).eval()
    threshold = choose_threshold(
        args, lambda: heldout_scores(method, calibration, model, settings, checkpoint, args.progress, log),
        checkpoint=checkpoint)
    with claim_run_folder(save_dir, PREDICT_FILES, overwrite=args.overwrite, log=log):
        pixels, images = read_images(inputs, settings["image_size"], "input images", args.progress)
        scores, maps = scored(method, model, images)  # write_predictions refuses non-finite scores
        scale = shared_scale(threshold.value if threshold else None, largest=float(maps.max()), centre=False)
        info = {"method": method.name, "checkpoint": str(checkpoint), "settings_from": where,
                "settings": {**settings, "resize": "bilinear to image_size, then [-1, 1] (as --mode test)"}}
        return write_predictions(save_dir, inputs, scores, pixels, lambda i: maps[i], threshold, scale,
                                 method.map_label, info, started, args.progress, log)


def demo(method: PixelMethod, args) -> dict:
    """Phantoms in the Med-AD layout, a short training, the test report and figures."""
    from .phantoms import make_phantom_dataset

    given_dir = getattr(args, "save_dir", None)
    save_dir = Path(given_dir or f"demo_output/{method.name}")
    # Its own folder is the demo's scratch space: a re-run starts over there. A folder you name is
    # treated like any run folder (refused if it holds a run, unless --resume or --overwrite).
    args.overwrite = args.overwrite or (given_dir is None and not args.resume)
    data_root = Path(getattr(args, "data_root", None) or save_dir / "phantoms")
    defaults = {**method.demo, "save_dir": str(save_dir), "data_root": str(data_root)}
    config = config_from(method, args, **defaults)  # bad flags are refused before any work
    if not getattr(args, "data_root", None) and not args.resume:
        make_phantom_dataset(data_root, "medad", image_size=config.image_size, counts=DEMO_COUNTS, seed=config.seed,
                             lesion_scale=DEMO_LESION_SCALE)
    run = train(method, args, **defaults)
    args.checkpoint = str(run.checkpoint_path)
    return test(method, args, **defaults)


__all__ = ["PixelMethod", "PixelRun", "build_parser", "main", "predict", "scored", "test", "train"]
