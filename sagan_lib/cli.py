"""`python -m sagan_lib`: train, test, or run the demo.

Flag names and defaults follow the authors' `main.py`, so the paper's commands
work, e.g. `python -m sagan_lib --dataset rsna --mode train --image_size 64 --device 0`
(plus `--data_root`, since their data path was hard-coded).
"""

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

from .config import SaganConfig

DATASET_FOLDERS = {"rsna": "RSNA", "vincxr": "VinCXR", "lag": "LAG"}

HELP = {
    "dataset": "rsna | vincxr | lag (DATA_ROOT/RSNA, …) or folder (DATA_ROOT itself is a Med-AD folder)",
    "data_root": "folder holding the dataset(s) in the Med-AD layout (images/ + data.json)",
    "select_on": "checkpoint selection: last (default), synthetic-val (held-out normals vs synthetic "
                 "anomalies, no test labels) or test (the authors' choice: leaks test labels)",
    "lr_decay": "linear (default: reaches 0 at num_iters) or reference (the authors' tiny steps)",
    "device": "auto (cuda, then mps, then cpu), cpu, cuda, mps, or a GPU number as in the authors' flags",
    "amp": "mixed precision: bfloat16 on GPUs with native bfloat16 (compute capability ≥ 8.0), float16 with "
           "a gradient scaler on older ones (e.g. a T4); float32 on a CPU",
    "amp_dtype": "auto (what --amp picks for the device), bf16 or fp16: force that type on any device (implies --amp)",
    "channels_last": "channels-last memory format on CUDA",
    "compile": "torch.compile the generator",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sagan_lib", description="SAGAN anomaly detection")
    parser.add_argument("--mode", choices=["train", "test", "demo"], default="train")
    for field in fields(SaganConfig):
        flag = f"--{field.name}"
        if field.type is bool:
            parser.add_argument(flag, action="store_true", help=HELP.get(field.name))
        else:
            kind = field.type if field.type in (int, float) else str
            parser.add_argument(flag, type=kind, default=None, help=HELP.get(field.name))
    parser.add_argument("--result_dir", dest="save_dir", help="alias of --save_dir")
    parser.add_argument("--resume", action="store_true", help="continue from MODEL_SAVE_DIR/last.ckpt")
    parser.add_argument("--test_iters", type=int, help="test MODEL_SAVE_DIR/{test_iters}-G.ckpt")
    parser.add_argument("--checkpoint", help="generator weights to test: ours or the authors' SAGAN_G_*.ckpt")
    parser.add_argument("--report_json", help="write the test report (AUC, AP, cutoffs) to this JSON file")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def config_from_args(args, **defaults) -> SaganConfig:
    """A SaganConfig from the flags given; flags left out keep `defaults`, then the authors' values."""
    values = dict(defaults)
    for field in fields(SaganConfig):
        given = getattr(args, field.name, None)
        if given not in (None, False):
            values[field.name] = given
    if str(values.get("device", "")).isdigit():
        values["device"] = f"cuda:{values['device']}"
    return SaganConfig(**values)


def dataset_folder(config: SaganConfig) -> Path:
    """Where the Med-AD folder of `config.dataset` is."""
    if config.data_root is None:
        raise SystemExit("--data_root is required: the folder with your Med-AD dataset(s) (see data/README.md)")
    root = Path(config.data_root)
    if config.dataset == "folder" or (root / "data.json").is_file():
        return root
    if config.dataset not in DATASET_FOLDERS:
        raise SystemExit(f"--dataset must be one of {', '.join([*DATASET_FOLDERS, 'folder'])}, got {config.dataset}")
    return root / DATASET_FOLDERS[config.dataset]


def run_train(config: SaganConfig, resume: bool = False, progress: bool = True):
    """Load the Med-AD folder and train; returns the trainer."""
    from anomaly_lib import distributed
    from anomaly_lib.device import pick_device
    from anomaly_lib.layouts import read_medad

    from .data import MedADTestSet, MedADTrainSet
    from .train import SaganTrainer

    distributed.start(pick_device(config.device))  # under torchrun: join the process group first
    progress = progress and distributed.is_main()
    root = dataset_folder(config)
    holdout = 0
    if config.select_on == "synthetic-val":  # default: 10% of the labeled normals, at least 8
        holdout = config.val_holdout or max(8, len(read_medad(root)["train_normal"]) // 10)
    train_set = MedADTrainSet(root, config.image_size, config.ar, config.core_percent, holdout, progress)
    test_set = MedADTestSet(root, config.image_size, progress=progress) if config.select_on == "test" else None
    trainer = SaganTrainer(config, train_set, test_set)
    if resume:
        trainer.load()
    if distributed.is_main():
        processes = f" × {distributed.world_size()} processes" if distributed.world_size() > 1 else ""
        print(f"training SAGAN on {root} ({len(train_set)} normal/unlabeled pairs) on {trainer.device}{processes}")
    trainer.train(progress=progress)
    return trainer


def run_test(config: SaganConfig, checkpoint=None, test_iters=None, report_json=None, progress=True, device=None):
    """Score the test split with a generator checkpoint; print and save the report and figures."""
    import torch

    from anomaly_lib.device import pick_device

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
    generator = load_generator_checkpoint(
        checkpoint, conv_dim=config.g_conv_dim, repeat_num=config.g_repeat_num, num_memory=config.num_memory
    ).to(device)
    test_set = MedADTestSet(dataset_folder(config), config.image_size, progress=progress)
    with torch.no_grad():
        result = score_test_set(generator, test_set, config.num_patch, device=device, progress=progress)
    figures = save_figures(generator, test_set, result, config.save_dir, config.num_patch, device)
    print(f"checkpoint: {checkpoint}")
    print(result.report)
    print(f"figures: {figures['roc']}  {figures['panel']}")
    if report_json:
        Path(report_json).parent.mkdir(parents=True, exist_ok=True)
        payload = {"checkpoint": str(checkpoint), **result.report.as_dict()}
        Path(report_json).write_text(json.dumps(payload, indent=2))
    return result, figures


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    progress = not args.quiet
    if args.mode == "demo":
        from .demo import run_demo

        run_demo(args, progress=progress)
        return 0
    config = config_from_args(args)
    if args.mode == "train":
        from anomaly_lib import distributed

        try:
            run_train(config, resume=args.resume, progress=progress)
        finally:
            distributed.stop()  # leave torchrun's process group, if any
    else:
        run_test(config, args.checkpoint, args.test_iters, args.report_json, progress=progress)
    return 0


if __name__ == "__main__":
    sys.exit(main())
