"""SAGAN's commands below the command line: a config from flags, train, test.

`cli` (the parser and the mode dispatch), `demo` and `predict` use these; none of them imports `cli`.
"""

import json
from pathlib import Path

from .config import SaganConfig

DATASET_FOLDERS = {"rsna": "RSNA", "vincxr": "VinCXR", "lag": "LAG"}


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


def checked_splits(config: SaganConfig, allow_overlap: bool = False) -> tuple[Path, dict]:
    """The dataset folder and its data.json lists (read once, here), after checking them: repeats
    warn, train/test overlap refuses."""
    from anomaly_lib.layouts import read_medad
    from anomaly_lib.splits import check_splits

    root = dataset_folder(config)
    splits = read_medad(root)
    check_splits(splits, allow_overlap)
    return root, splits


def run_train(config: SaganConfig, resume: bool = False, progress: bool = True, overwrite: bool = False,
              allow_overlap: bool = False):
    """Check everything that can be checked cheaply, claim the run folder, load the data and train.

    Returns the trainer. A folder holding another run is refused unless `resume` or `overwrite`.
    """
    from anomaly_lib import distributed
    from anomaly_lib.calibration import heldout_count
    from anomaly_lib.device import pick_device
    from anomaly_lib.engine import check_resume
    from anomaly_lib.runs import claim_run_folder

    from .data import MedADTestSet, MedADTrainSet
    from .train import RUN_FILES, SaganTrainer

    # A missing GPU is named before any image is read; under torchrun this joins the process group.
    distributed.start(pick_device(config.device))
    progress = progress and distributed.is_main()
    if config.image_size % 2 ** config.d_repeat_num:
        raise ValueError(f"--image_size {config.image_size} is not divisible by 2**d_repeat_num = "
                         f"{2 ** config.d_repeat_num}: the critic halves it d_repeat_num times")
    check_resume(resume, Path(config.model_save_dir) / "last.ckpt")
    with claim_run_folder(config.model_save_dir, RUN_FILES, resume, overwrite, [config.sample_dir]):
        root, splits = checked_splits(config, allow_overlap)
        holdout = heldout_count(len(splits["train_normal"]), config.holdout, config.val_holdout)
        train_set = MedADTrainSet(root, config.image_size, config.ar, config.core_percent, holdout, progress, splits)
        test_set = MedADTestSet(root, config.image_size, progress=progress, splits=splits) \
            if config.select_on == "test" else None
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
    root, splits = checked_splits(config, allow_overlap)
    test_set = MedADTestSet(root, config.image_size, progress=progress, splits=splits)
    with torch.no_grad():
        result = score_test_set(generator, test_set, config.num_patch, device=device, progress=progress,
                                checkpoint=checkpoint)  # broken weights stop here, named
    print(f"checkpoint: {checkpoint}")
    print(result.report)
    if report_json:
        payload = {"checkpoint": str(checkpoint), **result.report.as_dict()}
        Path(report_json).write_text(json.dumps(payload, indent=2))
    figures = save_figures(generator, test_set, result, config.save_dir, config.num_patch, device)
    print(f"figures: {figures['roc']}  {figures['panel']}")
    return result, figures
