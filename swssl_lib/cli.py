"""``python -m swssl_lib``: train, test, predict with or demo SWSSL from the command line.

The flag names follow the authors' script (``--dataset_path``, ``--category``,
``--batch_size``, ``--patch_size``, ``--step_size``, ``--lr``, ``--epochs``, ...).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from anomaly_lib import distributed
from anomaly_lib.amp import AMP_DTYPE_CHOICES
from anomaly_lib.calibration import HOLDOUT_CHOICES, heldout_count
from anomaly_lib.cli import run_command
from anomaly_lib.device import describe_device, pick_device
from anomaly_lib.engine import add_run_flags, check_resume
from anomaly_lib.files import following_symlinks
from anomaly_lib.predictions import check_predict_flags
from anomaly_lib.runs import check_writable, claim_run_folder
from anomaly_lib.splits import check_splits

from .data import (
    DEFAULT_IMAGE_SIZES,
    LAYOUT_READERS,
    NORMALIZATIONS,
    SWSSLDataset,
    full_image_loader,
    read_images,
)
from .evaluate import SCORINGS, evaluate
from .loss import VARIANTS as LOSS_VARIANTS
from .model import PatchModel
from .outputs import save_figures, write_report
from .predict import record_run_setup, run_settings
from .train import (
    RUN_FILES,
    SELECTIONS,
    TEST_SELECTION_WARNING,
    TrainConfig,
    check_batch_fits,
    fit,
    load_checkpoint,
    load_weights,
    patch_loader,
)

DESCRIPTION = """\
SWSSL: sliding-window self-supervised anomaly detection for high-resolution images
(Dong et al., IEEE TMI 2023). Trains a patch model on normal images only, then scores every
sliding window of a test image against the windows of the training images.

  python -m swssl_lib --mode demo                        # phantoms, ~3 minutes on a CPU
  python -m swssl_lib --dataset_path data/chest_xray --category chest
  python -m swssl_lib --mode test --dataset_path data/chest_xray --checkpoint runs/swssl/last.pt
  python -m swssl_lib --mode predict --checkpoint runs/swssl/last.pt --input new_images/ --save_dir out \
      --specificity 0.95
"""

EPILOG = """\
Differences from the authors' code (use the options on the right to reproduce them):
  * views, neighbours, training and test images are all normalised the same way
    (--normalization reference: only the two views are normalised, as the authors do);
  * the model after the last epoch is kept (--selection test: keep the best TEST AUC,
    as the authors do; this uses test labels to choose the model);
  * the last 10 %% of the normal training images (at least 8) are held out of training and of
    the feature bank, to set thresholds without labels (--holdout reference: train on all).
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m swssl_lib", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    run = parser.add_argument_group("what to run")
    run.add_argument("--mode", "--phase", dest="mode", choices=["train", "test", "predict", "demo"],
                     default="train", help="train (then evaluate), test a checkpoint, predict on new images "
                                           "with one, or a small demo on phantoms (--phase is the authors' name)")
    run.add_argument("--dataset_path", help="dataset root (chest or DBT layout; see swssl_lib/README.md)")
    run.add_argument("--category", choices=sorted(DEFAULT_IMAGE_SIZES), default="chest")
    run.add_argument("--save_dir", default=None,
                     help="checkpoints, figures and report (default runs/swssl, demo_output/swssl for the demo)")
    run.add_argument("--device", default="auto", help="auto, cuda, mps or cpu")
    run.add_argument("--seed", type=int, default=0)
    add_run_flags(parser, "SAVE_DIR", "last.pt", "weights to test, or to start training from "
                                                 "(ours or the authors' plain state dict)")

    data = parser.add_argument_group("data")
    data.add_argument("--image_size", type=int, nargs="+", metavar="SIZE",
                      help="H or H W (default 1024 for chest, 1024 768 for DBT, as the authors)")
    data.add_argument("--patch_size", type=int, default=128)
    data.add_argument("--step_size", type=int, default=32)
    data.add_argument("--normalization", choices=NORMALIZATIONS, default="default",
                      help="default: everything normalised alike; reference: as the authors")
    data.add_argument("--holdout", choices=HOLDOUT_CHOICES, default="split",
                      help="split: hold the last VAL_HOLDOUT normal training images out of training and of the "
                           "bank, to set thresholds without labels (--mode predict --specificity); "
                           "reference: train on all, as the authors")
    data.add_argument("--val_holdout", type=int, default=0,
                      help="normal training images held out with --holdout split; 0: 10%%, at least 8")
    data.add_argument("--preload", action=argparse.BooleanOptionalAction, default=True,
                      help="hold all images in memory as uint8 (chest: ~5.5 GB at 1024²); "
                           "--no-preload reads them from disk when needed")
    data.add_argument("--num_workers", type=int, default=2, help="DataLoader workers")

    model = parser.add_argument_group("model")
    model.add_argument("--backbone", default="wide_resnet50_2", help="a torchvision ResNet, e.g. resnet18")
    model.add_argument("--pretrained", action=argparse.BooleanOptionalAction, default=True,
                       help="start from torchvision's ImageNet weights (downloaded once)")
    model.add_argument("--checkpoint_activations", action="store_true",
                       help="recompute each backbone stage's activations in backward instead of storing "
                            "them: less memory, one more forward pass of compute, the same gradients")

    train = parser.add_argument_group("training")
    train.add_argument("--batch_size", type=int, default=300)
    train.add_argument("--lr", type=float, default=1e-4)
    train.add_argument("--momentum", type=float, default=0.9)
    train.add_argument("--weight_decay", type=float, default=1e-5)
    train.add_argument("--clip_value", type=float, default=0.1, help="gradient clipping by value")
    train.add_argument("--epochs", type=int, default=100, help="0 evaluates the untrained model (a baseline)")
    train.add_argument("--eval_every", type=int, default=10, help="evaluate every N epochs (and at the end)")
    train.add_argument("--selection", choices=SELECTIONS, default="last",
                       help="which checkpoint to keep: last (default) or test (best test AUC; leaks)")
    train.add_argument("--loss_variant", choices=LOSS_VARIANTS, default="paper")
    train.add_argument("--amp", action="store_true",
                       help="mixed precision: bfloat16 on GPUs with native bfloat16 (compute capability ≥ 8.0), "
                            "float16 with a gradient scaler on older ones (e.g. a T4); float32 on a CPU")
    train.add_argument("--amp_dtype", choices=AMP_DTYPE_CHOICES, default="auto",
                       help="bf16 or fp16: force that type on any device (implies --amp)")

    score = parser.add_argument_group("scoring")
    score.add_argument("--scoring", choices=[*SCORINGS, "both"], default=None,
                       help="reference (the authors'; the default), patch_knn (gives heatmaps) or both; "
                            "--mode predict decides on one, patch_knn unless given")
    score.add_argument("--k", type=int, default=1, help="neighbours for patch_knn")
    score.add_argument("--eval_batch_size", type=int, default=4, help="full images per batch")
    score.add_argument("--window_chunk", type=int, default=64, help="windows per model call")
    score.add_argument("--include_last_window", action="store_true",
                       help="also use the last window start per axis (the authors skip it)")
    score.add_argument("--bank_in_memory", action="store_true",
                       help="keep the training feature bank in RAM instead of SAVE_DIR/feature_bank.npy")
    return parser


def image_size(args) -> tuple[int, int]:
    if args.image_size is None:
        return DEFAULT_IMAGE_SIZES[args.category]
    if len(args.image_size) > 2:
        raise ValueError("--image_size takes one value (square) or two (height width)")
    return (args.image_size[0], args.image_size[-1])


def scorings(args) -> tuple[str, ...]:
    return SCORINGS if args.scoring == "both" else (args.scoring,)


def full_loader(images, args) -> DataLoader:
    return full_image_loader(images, args.category, args.normalization, args.eval_batch_size, args.num_workers)


def check_paths(args) -> None:
    """Fail early, before any image is read, on a missing dataset or checkpoint or a bad flag."""
    if not args.dataset_path:
        raise ValueError(f"--mode {args.mode} needs --dataset_path (or try --mode demo)")
    if not Path(args.dataset_path).is_dir():
        raise FileNotFoundError(f"--dataset_path {args.dataset_path} is not a folder")
    if args.mode == "test" and not args.checkpoint:
        raise ValueError("--mode test needs --checkpoint (e.g. runs/swssl/last.pt)")
    if args.checkpoint and not Path(args.checkpoint).is_file():
        raise FileNotFoundError(f"--checkpoint {args.checkpoint} is not a file")
    check_numbers(args)


def check_numbers(args) -> None:
    """The scoring and loading flags that must be at least some number."""
    for flag, smallest in (("k", 1), ("eval_batch_size", 1), ("window_chunk", 1), ("num_workers", 0),
                           ("val_holdout", 0)):
        if getattr(args, flag) < smallest:
            raise ValueError(f"--{flag} must be ≥ {smallest}, got {getattr(args, flag)}")


def check_data(args, config: TrainConfig) -> None:
    """Warn about repeated images; refuse images in both a training and a test folder, and too few
    training images for one batch."""
    splits = LAYOUT_READERS[args.category](args.dataset_path)
    check_splits({name: splits[name] for name in ("train_normal", "test_normal", "test_abnormal")},
                 args.allow_overlap)
    n_heldout = heldout_count(len(splits["train_normal"]), args.holdout, args.val_holdout)
    n_train = len(splits["train_normal"]) - n_heldout
    if args.mode == "train" and config.epochs > 0:
        check_batch_fits(n_train, config.batch_size)
    # training scores its held-out normals with patch_knn too, whichever scoring the test uses
    uses_knn = "patch_knn" in scorings(args) or (args.mode == "train" and n_heldout > 0)
    if uses_knn and args.k > n_train:
        raise ValueError(f"--k {args.k} is more than the {n_train} training images to take neighbours from")


def run(args, log=print) -> dict:
    """Train (then evaluate) or test, as the parsed ``args`` say; returns the report.

    Everything that can be checked without reading images is checked first: the flags, the
    device, the checkpoint, repeated or leaked images, and the output folder, which is then
    held for this run (``anomaly_lib.runs``). ``--mode predict`` goes to ``swssl_lib.predict``.
    """
    check_predict_flags(args)
    if args.mode == "predict":
        from .predict import run_predict

        check_numbers(args)
        return run_predict(args, vars(build_parser().parse_args([])), log=log)
    args.scoring = args.scoring or "reference"
    check_paths(args)
    save_dir = Path(args.save_dir or "runs/swssl")
    size = image_size(args)
    config = TrainConfig(
        category=args.category, image_size=size, patch_size=args.patch_size, step_size=args.step_size,
        batch_size=args.batch_size, lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay,
        clip_value=args.clip_value, epochs=args.epochs, eval_every=args.eval_every,
        selection=args.selection, loss_variant=args.loss_variant, normalization=args.normalization,
        backbone=args.backbone, pretrained=args.pretrained, seed=args.seed, amp=args.amp,
        amp_dtype=args.amp_dtype)
    device = distributed.start(pick_device(args.device))  # under torchrun: join the group, take a GPU
    if distributed.world_size() > 1 and args.bank_in_memory:
        raise ValueError("--bank_in_memory: several processes share the feature bank through "
                         "SAVE_DIR/feature_bank.npy; leave the flag out under torchrun")
    log = distributed.log_of_this_process(log)  # rank 0 speaks for all
    if args.report_json:
        check_writable(Path(args.report_json).parent)
    check_data(args, config)
    training = args.mode == "train"
    resuming = training and check_resume(args.resume, save_dir / RUN_FILES[0])
    with claim_run_folder(save_dir, RUN_FILES if training else (), resuming, args.overwrite, log=log):
        return train_or_test(args, config, save_dir, device, resuming, log)


def build_model(args, resuming: bool) -> PatchModel:
    """The patch model: with the weights of --checkpoint (test, or a start for training) if given."""
    torch.manual_seed(args.seed)
    if not args.checkpoint or resuming:  # resumed weights come from last.pt, in fit
        return new_model(args, args.backbone, pretrained=args.pretrained and not resuming)
    checkpoint = load_checkpoint(args.checkpoint)
    backbone = args.backbone if args.mode == "train" else \
        (checkpoint.get("config") or {}).get("backbone", args.backbone)
    model = new_model(args, backbone, pretrained=False)  # the weights come next
    return load_weights(model, checkpoint, args.checkpoint)


def new_model(args, backbone: str, pretrained: bool) -> PatchModel:
    """A PatchModel; under torchrun rank 0 downloads the ImageNet weights once, then the others
    read them from torchvision's cache."""
    def make():
        return PatchModel(backbone=backbone, pretrained=pretrained, checkpoint_activations=args.checkpoint_activations)

    if not pretrained or distributed.world_size() == 1:
        return make()
    model = None
    with distributed.together():
        if distributed.is_main():
            model = make()
    return make() if model is None else model


def train_or_test(args, config: TrainConfig, save_dir: Path, device, resuming: bool, log=print) -> dict:
    started = time.time()
    size = config.image_size
    processes = f" × {distributed.world_size()} processes" if distributed.world_size() > 1 else ""
    log(f"device: {describe_device(device)}{processes}")
    log(f"data: {args.category} at {args.dataset_path}, images {size[0]}×{size[1]}, "
        f"patch {args.patch_size}, step {args.step_size}, normalization {args.normalization}")
    model = build_model(args, resuming).to(device)
    if args.checkpoint and not resuming:
        log(f"{'starting from' if args.mode == 'train' else 'testing'} the weights in {args.checkpoint}")

    load = dict(preload=args.preload, progress=args.progress and distributed.is_main())
    normal_images = read_images(args.dataset_path, args.category, "train", size, **load)
    test_images = read_images(args.dataset_path, args.category, "test", size, **load)
    # the last normals are held out of training and of the bank (anomaly_lib.calibration)
    keep = len(normal_images) - heldout_count(len(normal_images), args.holdout, args.val_holdout)
    train_images, heldout_images = normal_images.take(slice(None, keep)), normal_images.take(slice(keep, None))
    log(f"{len(train_images)} normal training images ({len(heldout_images)} more held out, --holdout "
        f"{args.holdout}); {len(test_images)} test images ({sum(test_images.labels)} abnormal)")
    train_full, test_full = full_loader(train_images, args), full_loader(test_images, args)
    training = args.mode == "train"
    heldout_full = full_loader(heldout_images, args) if training and len(heldout_images) else None
    bank_path = None if args.bank_in_memory else save_dir / "feature_bank.npy"
    evaluations = {}

    def evaluate_model(model):
        result = evaluate(model, train_full, test_full, args.patch_size, args.step_size,
                          scorings=scorings(args), k=args.k, bank_path=bank_path,
                          chunk_size=args.window_chunk, include_last=args.include_last_window,
                          progress=args.progress, heldout_loader=heldout_full)
        evaluations["latest"] = result
        if training:  # what --mode predict needs, beside the checkpoint (under torchrun written by rank 0)
            with distributed.together():
                if distributed.is_main():
                    record_run_setup(save_dir, model, result, run_settings(args, config), train_images.paths,
                                     heldout_images.paths, bank_path)
        return result.reports[scorings(args)[0]].auc

    report = {"mode": args.mode, "settings": vars(args), "device": describe_device(device)}
    if args.mode == "train" and config.epochs == 0 and not resuming:
        log("--epochs 0: no training; evaluating the untrained model as a baseline")
        report["training"] = "none (--epochs 0): the untrained model"
        evaluate_model(model)
    elif args.mode == "train":
        patches = SWSSLDataset(train_images, patch=True, patch_size=args.patch_size,
                               step_size=args.step_size, category=args.category,
                               normalization=args.normalization)
        summary = fit(model, patch_loader(patches, config, args.num_workers), config, save_dir,
                      device=device, evaluate_fn=evaluate_model, resume=args.resume,
                      progress=args.progress, log=log, overwrite=args.overwrite)
        report["training"] = summary
        if args.selection == "test":
            report["warning"] = TEST_SELECTION_WARNING
            load_weights(model, load_checkpoint(summary["checkpoint"]), summary["checkpoint"])
            evaluate_model(model)
        elif "latest" not in evaluations:  # e.g. a resumed run that had already finished
            evaluate_model(model)
    else:
        evaluate_model(model)
        report["checkpoint"] = str(args.checkpoint)

    evaluation = evaluations["latest"]
    log(evaluation.summary())
    if not distributed.is_main():
        return report  # rank 0 writes the figures and the report
    report["results"] = evaluation.as_dict()
    report["figures"] = save_figures(evaluation, test_images, save_dir,
                                     title=f"SWSSL on {args.category}")
    report["seconds"] = round(time.time() - started, 1)
    paths = [save_dir / "report.json"] + ([Path(args.report_json)] if args.report_json else [])
    for path in paths:
        write_report(report, path)
    log(f"figures: {', '.join(report['figures'].values())}")
    log(f"report: {', '.join(str(p) for p in paths)}")
    return report


def main(argv=None) -> int:
    """Run the command line; returns the exit status (see ``anomaly_lib.cli.run_command``)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.mode == "demo":
        from .demo import DEMO_DEFAULTS, run_demo

        parser.set_defaults(**DEMO_DEFAULTS)  # the demo's small settings; flags still override them
        args = parser.parse_args(argv)
    task = (lambda: in_processes(lambda demo_args: run_demo(demo_args, run), args)) if args.mode == "demo" \
        else (lambda: in_processes(run, args))
    with following_symlinks(args.follow_symlinks):  # every data reader obeys --follow_symlinks
        return run_command(task, debug=args.debug)


def in_processes(command, args) -> None:
    """Run ``command(args)``. Under torchrun training and testing use every process; the other
    modes run in rank 0 alone, and the other processes stop at once."""
    distributed.in_processes(args.mode, lambda: command(args), modes_in_every_process=("train", "test"))


if __name__ == "__main__":
    sys.exit(main())
