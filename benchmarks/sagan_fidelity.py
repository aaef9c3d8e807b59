"""Training-level fidelity: test AUC of the kit's trainer against the authors' loop, over seeds.

    python benchmarks/sagan_fidelity.py --digits                  # real digits, 3 seeds (about 15 min of CPU)
    python benchmarks/sagan_fidelity.py --data_root DIR --seeds 5 --iters 2000 --image_size 64

For every seed, three runs start from the same weights on the same Med-AD folder, with the
same budget:

  authors   `sagan_lib.authors_loop`: their data loader, update order, four generator calls
            per generator iteration and step learning-rate decay
  kit-ref   `SaganTrainer` with `lr_decay="reference"` (their decay): isolates the loop itself
  kit       `SaganTrainer` with the kit's defaults (`lr_decay="linear"`)

Every run is scored on the test split every `--eval_every` iterations, for measurement only.
Two numbers come out per run: `last`, the AUC of the final generator (the kit's default
`select_on="last"`), and `test-picked`, what the authors' rule reports (keep a generator when
its test AUC and AP both improve), which uses the test labels. Printed: mean ± std over
seeds, and the paired differences against the authors' loop.

`--digits` makes a Med-AD folder from scikit-learn's handwritten digits (real, not medical;
see `anomaly_lib/digits.py`), with no download.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from anomaly_lib.device import describe_device, pick_device
from anomaly_lib.digits import make_digits_dataset
from sagan_lib.authors_loop import train_like_authors
from sagan_lib.config import SaganConfig
from sagan_lib.data import MedADTestSet, MedADTrainSet
from sagan_lib.scoring import score_test_set
from sagan_lib.train import SaganTrainer

RUNS = {
    "authors": "the authors' loop (data loader, order, 4 G calls, step decay)",
    "kit-ref": "kit trainer, lr_decay=reference",
    "kit": "kit trainer, defaults (lr_decay=linear)",
}


def test_picked(evaluations: list) -> float:
    """The authors' rule: keep the generator whenever test AUC and AP both improve."""
    best_auc, best_ap = -1.0, -1.0
    for auc, ap in evaluations:
        if auc > best_auc and ap > best_ap:
            best_auc, best_ap = auc, ap
    return best_auc


def run_once(kind: str, config: SaganConfig, train_set, test_set, eval_every: int) -> dict:
    """Train one run of `kind` and score it every `eval_every` iterations; returns AUCs and time."""
    if kind != "authors":
        config = SaganConfig(**{**config.to_dict(), "lr_decay": "linear" if kind == "kit" else "reference"})
    trainer = SaganTrainer(config, train_set, log=lambda *_: None)  # seeds torch: same weights for every kind
    evaluations = []

    def evaluate(iteration):
        if iteration % eval_every == 0 or iteration == config.num_iters:
            report = score_test_set(trainer.G, test_set, config.num_patch, device=trainer.device, progress=False).report
            evaluations.append((report.auc, report.ap))

    start = time.perf_counter()
    if kind == "authors":
        train_like_authors(trainer, config.num_iters, after_iteration=evaluate)
    else:
        for end in range(eval_every, config.num_iters + eval_every, eval_every):
            trainer.train(min(end, config.num_iters), progress=False)
            evaluate(trainer.iteration)
    return {"last": evaluations[-1][0], "test-picked": test_picked(evaluations),
            "curve": [auc for auc, _ in evaluations], "seconds": time.perf_counter() - start}


def mean_std(values) -> str:
    values = np.asarray(values, dtype=float)
    spread = f" ± {values.std(ddof=1):.3f}" if len(values) > 1 else ""
    return f"{values.mean():.3f}{spread}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data_root", help="a Med-AD folder (images/ + data.json)")
    source.add_argument("--digits", action="store_true", help="make one from scikit-learn's digits (no download)")
    parser.add_argument("--normal_digits", type=int, nargs="+", default=[0, 2, 4, 6, 8],
                        help="the digits that play normal (default: the even ones; see anomaly_lib/digits.py)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first_seed", type=int, default=0)
    parser.add_argument("--runs", nargs="+", choices=list(RUNS), default=list(RUNS), help="which runs (default: all)")
    parser.add_argument("--iters", type=int, default=600)
    parser.add_argument("--eval_every", type=int, default=100)
    parser.add_argument("--image_size", type=int, default=32)
    parser.add_argument("--conv_dim", type=int, default=8)
    parser.add_argument("--repeat_num", type=int, default=1)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=5e-4, help="both networks (the authors: 5e-5 over 100,000 iterations)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", help="also write every number to this JSON file")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="sagan_fidelity_"))
    root = Path(args.data_root) if args.data_root else make_digits_dataset(
        work / "digits", args.normal_digits, args.image_size)
    train_set = MedADTrainSet(root, args.image_size, progress=False)
    test_set = MedADTestSet(root, args.image_size, progress=False)
    config = SaganConfig(
        dataset="folder", data_root=str(root), image_size=args.image_size, g_conv_dim=args.conv_dim,
        d_conv_dim=args.conv_dim, g_repeat_num=args.repeat_num, d_repeat_num=int(np.log2(args.image_size)),
        batch_size=args.batch_size, g_lr=args.lr, d_lr=args.lr, num_iters=args.iters,
        num_iters_decay=args.iters // 2, lr_update_step=max(1, args.iters // 100),  # the authors' proportions
        log_step=10 ** 9, sample_step=10 ** 9, model_save_step=10 ** 9, keep_last=1,
        model_save_dir=str(work / "models"), device=args.device)
    device = pick_device(args.device)
    what = f"scikit-learn digits, normal: {' '.join(map(str, args.normal_digits))}" if args.digits else "Med-AD"
    print(f"data: {root} ({what}); "
          f"{len(train_set)} normal/unlabeled pairs, {int((test_set.labels == 0).sum())} normal and "
          f"{int((test_set.labels == 1).sum())} abnormal test images")
    print(f"device: {describe_device(device)}, {torch.get_num_threads()} threads")
    print(f"config: {args.image_size}×{args.image_size}, conv_dim {config.g_conv_dim}, repeat_num {config.g_repeat_num}, "
          f"d_repeat_num {config.d_repeat_num}, batch {config.batch_size}, lr {config.g_lr}, {config.num_iters} iterations, "
          f"decay over the last {config.num_iters_decay} every {config.lr_update_step}, n_critic {config.n_critic}; "
          f"test AUC every {args.eval_every}")
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    print(f"seeds: {seeds.start}..{seeds.stop - 1}\n")

    runs = {kind: RUNS[kind] for kind in args.runs}
    results = {kind: [] for kind in runs}
    for seed in seeds:
        seeded = SaganConfig(**{**config.to_dict(), "seed": seed})
        for kind in runs:
            result = run_once(kind, seeded, train_set, test_set, args.eval_every)
            results[kind].append(result)
            print(f"seed {seed} {kind:<8} last AUC {result['last']:.3f}  test-picked {result['test-picked']:.3f}  "
                  f"({result['seconds']:.0f} s)  curve {' '.join(f'{a:.3f}' for a in result['curve'])}", flush=True)

    print(f"\n{'run':<8} {'AUC (last)':>15} {'AUC (test-picked)':>19} {'s/run':>7}  what")
    for kind, what in runs.items():
        done = results[kind]
        print(f"{kind:<8} {mean_std([r['last'] for r in done]):>15} {mean_std([r['test-picked'] for r in done]):>19} "
              f"{np.mean([r['seconds'] for r in done]):>7.0f}  {what}")
    print("\npaired differences over seeds (mean ± std), AUC at the last iteration:")
    for kind, base in (("kit-ref", "authors"), ("kit", "authors"), ("kit", "kit-ref")):
        if kind in results and base in results:
            differences = [a["last"] - b["last"] for a, b in zip(results[kind], results[base])]
            print(f"  {kind} − {base}: {mean_std(differences)}")
    inflation = [r["test-picked"] - r["last"] for kind in runs for r in results[kind]]
    print(f"test-picked − last, all runs: {mean_std(inflation)} (what selecting on the test set adds)")
    if args.json:
        Path(args.json).write_text(json.dumps({"config": config.to_dict(), "args": vars(args), "results": results},
                                              indent=2))


if __name__ == "__main__":
    main()
