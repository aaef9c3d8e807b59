"""`python -m sagan_lib --mode demo`: the whole job on built-in phantoms, on a CPU.

Makes a Med-AD-layout phantom dataset, trains a reduced SAGAN, scores the test
split, prints AUC and AP, and saves the ROC/PR curves and a heatmap panel.
"""

import time
from pathlib import Path

from anomaly_lib.medad import DEMO_COUNTS, DEMO_LESION_SCALE
from anomaly_lib.phantoms import make_phantom_dataset

from .commands import run_test, run_train
from .config import config_from_args

DEMO_FOLDER = "demo_output/sagan"

# What the demo changes from the authors' defaults, to finish in minutes on 2 CPU cores.
DEMO_CONFIG = {
    "dataset": "folder", "image_size": 64,
    "g_conv_dim": 8, "d_conv_dim": 8, "g_repeat_num": 1,
    "batch_size": 16, "num_iters": 400, "num_iters_decay": 100,
    "g_lr": 5e-4, "d_lr": 5e-4,
    "log_step": 100, "sample_step": 200, "model_save_step": 200, "lr_update_step": 20,
}


def run_demo(args, progress: bool = True):
    start = time.time()
    given_dir = getattr(args, "save_dir", None)
    save_dir = Path(given_dir or DEMO_FOLDER)
    # Its own folder is the demo's scratch space: a re-run starts over there. A folder you name
    # is treated like any run folder (refused if it holds a run, unless --resume or --overwrite).
    overwrite = getattr(args, "overwrite", False) or given_dir is None
    given_data = getattr(args, "data_root", None)
    data_root = Path(given_data or save_dir / "phantoms")
    defaults = dict(DEMO_CONFIG, data_root=str(data_root), save_dir=str(save_dir),
                    model_save_dir=str(save_dir / "models"), sample_dir=str(save_dir / "samples"))
    config = config_from_args(args, **defaults)  # bad flags are refused before any work
    if given_data is None:
        make_phantom_dataset(data_root, "medad", image_size=64, counts=DEMO_COUNTS, seed=config.seed,
                             lesion_scale=DEMO_LESION_SCALE)
        print(f"phantoms: {data_root} ({', '.join(f'{k} {v}' for k, v in DEMO_COUNTS.items())}; "
              f"lesion_scale {DEMO_LESION_SCALE})")
    changed = {k: getattr(config, k) for k in DEMO_CONFIG if k not in ("dataset",)}
    print("reduced config (the authors' defaults are in sagan_lib/config.py):")
    print("  " + ", ".join(f"{k}={v}" for k, v in changed.items()))
    trainer = run_train(config, getattr(args, "resume", False), progress, overwrite)
    result, figures = run_test(config, checkpoint=trainer.checkpoint_path, report_json=args.report_json,
                               progress=progress, device=trainer.device)
    print(f"\nSAGAN demo: AUC {result.report.auc:.3f}  AP {result.report.ap:.3f}  "
          f"({time.time() - start:.0f} s in all)")
    print(f"pictures: {figures['roc']}, {figures['panel']}")
    return result
