"""`python -m sagan_lib`: train, test, predict on new images, or run the demo.

Flag names and defaults follow the authors' `main.py`, so the paper's commands
work, e.g. `python -m sagan_lib --dataset rsna --mode train --image_size 64 --device 0`
(plus `--data_root`, since their data path was hard-coded).
"""

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

from anomaly_lib.cli import add_debug_flag, run_command
from anomaly_lib.predictions import add_predict_flags, check_predict_flags

from .config import SaganConfig

DATASET_FOLDERS = {"rsna": "RSNA", "vincxr": "VinCXR", "lag": "LAG"}
TYPES = {int: int, float: float, bool: bool}  # field type → flag type

HELP = {
    "dataset": "rsna | vincxr | lag (DATA_ROOT/RSNA, …) or folder (DATA_ROOT itself is a Med-AD folder)",
    "data_root": "folder holding the dataset(s) in the Med-AD layout (images/ + data.json)",
    "select_on": "checkpoint selection: last, synthetic-val (held-out normals vs synthetic "
                 "anomalies, no test labels) or test (the authors' choice: leaks test labels)",
    "lr_decay": "linear (reaches 0 at num_iters) or reference (the authors' tiny steps)",
    "keep_last": "iteration snapshots {N}-G.ckpt of this run kept on disk; 0 keeps all",
    "holdout": "split: hold out the last VAL_HOLDOUT labeled normals from training, for synthetic-val and "
               "predict's --specificity; reference: train on all, as the authors",
    "val_holdout": "labeled normals held out with --holdout split; 0: 10%%, at least 8",
    "device": "auto (cuda, then mps, then cpu), cpu, cuda, mps, or a GPU number as in the authors' flags",
    "amp": "mixed precision: bfloat16 on GPUs with native bfloat16 (compute capability ≥ 8.0), float16 with "
           "a gradient scaler on older ones (e.g. a T4); float32 on a CPU",
    "amp_dtype": "auto (what --amp picks for the device), bf16 or fp16: force that type on any device (implies --amp)",
    "channels_last": "channels-last memory format on CUDA",
    "compile": "torch.compile the generator",
}


def build_parser() -> argparse.ArgumentParser:
    """One flag per SaganConfig field; a flag left out is absent from the parsed args (SUPPRESS),
    so every flag given, 0 and False included, reaches the config."""
    parser = argparse.ArgumentParser(prog="python -m sagan_lib", description="SAGAN anomaly detection")
    parser.add_argument("--mode", choices=["train", "test", "predict", "demo"], default="train")
    for field in fields(SaganConfig):
        flag, kind = f"--{field.name}", TYPES.get(field.type, str)
        text = f"{HELP.get(field.name, '')} (default: {field.default})".lstrip()
        if kind is bool:  # --amp / --no-amp
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, help=text)
        else:
            parser.add_argument(flag, type=kind, default=argparse.SUPPRESS, help=text)
    parser.add_argument("--result_dir", dest="save_dir", default=argparse.SUPPRESS, help="alias of --save_dir")
    parser.add_argument("--resume", action="store_true", help="continue from MODEL_SAVE_DIR/last.ckpt")
    parser.add_argument("--overwrite", action="store_true",
                        help="MODEL_SAVE_DIR holds another run: delete its checkpoints and start a new run")
    parser.add_argument("--allow_overlap", action="store_true",
                        help="run even if data.json lists an image in a training and a test split (a leak)")
    parser.add_argument("--test_iters", type=int, help="test MODEL_SAVE_DIR/{test_iters}-G.ckpt")
    parser.add_argument("--checkpoint", help="generator weights to test or predict with: ours or the authors' "
                                             "SAGAN_G_*.ckpt")
    parser.add_argument("--report_json", help="write the test report (AUC, AP, cutoffs) to this JSON file")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    add_predict_flags(parser)
    add_debug_flag(parser)
    return parser


def config_from_args(args, **defaults) -> SaganConfig:
    """A SaganConfig from the flags given; flags left out keep `defaults`, then the authors' values."""
    values = dict(defaults)
    values.update({f.name: getattr(args, f.name) for f in fields(SaganConfig) if hasattr(args, f.name)})
    if str(values.get("device", "")).isdigit():
        values["device"] = f"cuda:{values['device']}"
    return SaganConfig(**values)


def dataset_folder(config: SaganConfig) -> Path:
    """Where the Med-AD folder of `config.dataset` is."""
    if config.data_root is None:
        raise ValueError("--data_root is required: the folder with your Med-AD dataset(s) (see data/README.md)")
    root = Path(config.data_root)
    if not root.is_dir():
        raise FileNotFoundError(f"--data_root {root} is not a folder")
    if config.dataset == "folder" or (root / "data.json").is_file():
        return root
    return root / DATASET_FOLDERS[config.dataset]


def checked_splits(config: SaganConfig, allow_overlap: bool = False) -> Path:
    """The dataset folder, after checking data.json's lists: repeats warn, train/test overlap refuses."""
    from anomaly_lib.layouts import read_medad
    from anomaly_lib.splits import check_splits

    root = dataset_folder(config)
    check_splits(read_medad(root), allow_overlap)
    return root


def run_train(config: SaganConfig, resume: bool = False, progress: bool = True, overwrite: bool = False,
              allow_overlap: bool = False):
    """Check everything that can be checked cheaply, claim the run folder, load the data and train.

    Returns the trainer. A folder holding another run is refused unless `resume` or `overwrite`.
    """
    from anomaly_lib import distributed
    from anomaly_lib.calibration import heldout_count
    from anomaly_lib.device import pick_device
    from anomaly_lib.layouts import read_medad
    from anomaly_lib.runs import claim_run_folder

    from .data import MedADTestSet, MedADTrainSet
    from .train import RUN_FILES, SaganTrainer

    # A missing GPU is named before any image is read; under torchrun this joins the process group.
    distributed.start(pick_device(config.device))
    progress = progress and distributed.is_main()
    if config.image_size % 2 ** config.d_repeat_num:
        raise ValueError(f"--image_size {config.image_size} is not divisible by 2**d_repeat_num = "
                         f"{2 ** config.d_repeat_num}: the critic halves it d_repeat_num times")
    checkpoint = Path(config.model_save_dir) / "last.ckpt"
    if resume and not checkpoint.is_file():
        raise FileNotFoundError(f"--resume: no checkpoint to resume from at {checkpoint}")
    with claim_run_folder(config.model_save_dir, RUN_FILES, resume, overwrite, [config.sample_dir]):
        root = checked_splits(config, allow_overlap)
        holdout = heldout_count(len(read_medad(root)["train_normal"]), config.holdout, config.val_holdout)
        train_set = MedADTrainSet(root, config.image_size, config.ar, config.core_percent, holdout, progress)
        test_set = MedADTestSet(root, config.image_size, progress=progress) if config.select_on == "test" else None
        trainer = SaganTrainer(config, train_set, test_set)
        if resume:
            trainer.load()
        processes = f" × {distributed.world_size()} processes" if distributed.world_size() > 1 else ""
        if distributed.is_main():
            print(f"training SAGAN on {root} ({len(train_set)} normal/unlabeled pairs, "
                  f"{len(train_set.heldout_normals)} labeled normals held out) on {trainer.device}{processes}")
        trainer.train(progress=progress)
    return trainer


def run_test(config: SaganConfig, checkpoint=None, test_iters=None, report_json=None, progress=True, device=None,
             allow_overlap: bool = False):
    """Score the test split with a generator checkpoint; print the report, then save it and the figures."""
    import torch

    from anomaly_lib.device import pick_device
    from anomaly_lib.runs import check_writable

    from .data import MedADTestSet
    from .scoring import save_figures, score_test_set
    from .weights import load_generator_checkpoint

    device = device or pick_device(config.device)
    folder = Path(config.model_save_dir)
    if checkpoint is None:
        if test_iters is not None:
            checkpoint = folder / f"{test_iters}-G.ckpt"
        elif config.select_on != "last" and (folder / "best-G.ckpt").is_file():
            checkpoint = folder / "best-G.ckpt"
        else:
            checkpoint = folder / "last.ckpt"
    check_writable(config.save_dir)  # before the work, not after it
    if report_json:
        check_writable(Path(report_json).parent)
    generator = load_generator_checkpoint(
        checkpoint, conv_dim=config.g_conv_dim, repeat_num=config.g_repeat_num, num_memory=config.num_memory
    ).to(device)
    test_set = MedADTestSet(checked_splits(config, allow_overlap), config.image_size, progress=progress)
    with torch.no_grad():
        result = score_test_set(generator, test_set, config.num_patch, device=device, progress=progress)
    print(f"checkpoint: {checkpoint}")
    print(result.report)
    if report_json:
        payload = {"checkpoint": str(checkpoint), **result.report.as_dict()}
        Path(report_json).write_text(json.dumps(payload, indent=2))
    figures = save_figures(generator, test_set, result, config.save_dir, config.num_patch, device)
    print(f"figures: {figures['roc']}  {figures['panel']}")
    return result, figures


def main(argv=None) -> int:
    """Run the command line; returns the exit status (see `anomaly_lib.cli.run_command`)."""
    args = build_parser().parse_args(argv)
    return run_command(lambda: run(args), debug=args.debug)


def run(args) -> None:
    """Run the mode `args` asks for. Under torchrun only `--mode train` uses the processes; the
    other modes run in rank 0 alone and the other processes stop at once."""
    from anomaly_lib import distributed

    distributed.in_processes(args.mode, lambda: run_mode(args), modes_in_every_process=("train",))


def run_mode(args) -> None:
    progress = not args.quiet
    check_predict_flags(args)
    if args.mode == "predict":
        from .predict import run_predict

        run_predict(args, progress)
        return
    if args.mode == "demo":
        from .demo import run_demo

        run_demo(args, progress=progress)
        return
    config = config_from_args(args)
    if args.mode == "train":
        run_train(config, args.resume, progress, args.overwrite, args.allow_overlap)
    else:
        run_test(config, args.checkpoint, args.test_iters, args.report_json, progress=progress,
                 allow_overlap=args.allow_overlap)


if __name__ == "__main__":
    sys.exit(main())
