"""`python -m sagan_lib`: train, test, predict on new images, or run the demo.

Flag names and defaults follow the authors' `main.py`, so the paper's commands
work, e.g. `python -m sagan_lib --dataset rsna --mode train --image_size 64 --device 0`
(plus `--data_root`, since their data path was hard-coded).
"""

import argparse
import sys

from anomaly_lib.cli import run_command
from anomaly_lib.engine import add_config_flags, add_run_flags
from anomaly_lib.files import following_symlinks
from anomaly_lib.predictions import check_predict_flags

from .commands import run_test, run_train
from .config import SaganConfig, config_from_args

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
    add_config_flags(parser, SaganConfig, HELP)
    parser.add_argument("--result_dir", dest="save_dir", default=argparse.SUPPRESS, help="alias of --save_dir")
    parser.add_argument("--test_iters", type=int, help="test MODEL_SAVE_DIR/{test_iters}-G.ckpt")
    add_run_flags(parser, "MODEL_SAVE_DIR", "last.ckpt", "generator weights to test or predict with: ours or the "
                                                       "authors' SAGAN_G_*.ckpt")
    return parser


def main(argv=None) -> int:
    """Run the command line; returns the exit status (see `anomaly_lib.cli.run_command`)."""
    args = build_parser().parse_args(argv)
    with following_symlinks(args.follow_symlinks):  # every data reader obeys --follow_symlinks
        return run_command(lambda: run(args), debug=args.debug)


def run(args) -> None:
    """Run the mode `args` asks for. Under torchrun only `--mode train` uses the processes; the
    other modes run in rank 0 alone and the other processes stop at once."""
    from anomaly_lib import distributed

    distributed.in_processes(args.mode, lambda: run_mode(args), modes_in_every_process=("train",))


def run_mode(args) -> None:
    progress = args.progress
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


__all__ = ["build_parser", "config_from_args", "main", "run", "run_test", "run_train"]

if __name__ == "__main__":
    sys.exit(main())

