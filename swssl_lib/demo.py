"""``python -m swssl_lib --mode demo``: SWSSL end to end on chest phantoms, in minutes on a CPU.

It writes a small phantom chest dataset, trains a randomly initialised resnet18 briefly with
the authors' recipe, scores the test phantoms with both scorings and saves the ROC curves and a
patch-heatmap panel. Everything is smaller than the paper's setting (listed in the output);
the code path is the same as a real run's.
"""

from __future__ import annotations

import time
from pathlib import Path

from anomaly_lib.phantoms import make_phantom_dataset

DEMO_DEFAULTS = dict(
    save_dir="demo_output/swssl",
    image_size=[256],
    patch_size=64,
    step_size=32,
    backbone="resnet18",
    pretrained=False,
    batch_size=32,
    epochs=6,
    scoring="both",
    num_workers=0,
    eval_batch_size=8,
)
# 8 of the 40 normals are held out (--holdout split), for --mode predict --specificity
DEMO_COUNTS = {"train_normal": 40, "test_normal": 16, "test_abnormal": 16}
PAPER_SETTING = "paper: 1024×1024 chest images, patch 128, step 32, wide_resnet50_2 (ImageNet), batch 300"


def run_demo(args, run, log=print) -> dict:
    """Make phantoms (unless ``--dataset_path`` is given), then train and test on them with
    ``run(args, log=…)``, the command line's train-and-test (passed in: the demo sits below it)."""
    started = time.time()
    save_dir = Path(args.save_dir)
    size = args.image_size[0], args.image_size[-1]
    if args.dataset_path is None:
        args.dataset_path = str(make_phantom_dataset(save_dir / "phantoms", layout=args.category,
                                                     image_size=size, counts=DEMO_COUNTS, seed=args.seed))
        log(f"wrote {sum(DEMO_COUNTS.values())} {args.category} phantoms to {args.dataset_path}")
    log("SWSSL demo, reduced setting: "
        f"{size[0]}×{size[1]} images, patch {args.patch_size}, step {args.step_size}, "
        f"{args.backbone} ({'ImageNet' if args.pretrained else 'random'} weights), "
        f"batch {args.batch_size}, {args.epochs} epochs, lr {args.lr}")
    log(f"  ({PAPER_SETTING})")
    args.mode = "train"
    # Its own folder is the demo's scratch space: a re-run starts over there. A folder you name
    # is treated like any run folder (refused if it holds a run, unless --resume or --overwrite).
    args.overwrite = args.overwrite or args.save_dir == DEMO_DEFAULTS["save_dir"]
    report = run(args, log=log)
    log("")
    for name, result in report["results"].items():
        log(f"demo {name:>9} scoring: AUC {result['auc']:.3f}, AP {result['ap']:.3f}")
    log("the heatmaps share one colour scale: patch_knn's authors' cutoff is the middle colour (green)")
    log(f"demo wall time: {time.time() - started:.0f} s; outputs in {save_dir}")
    return report
