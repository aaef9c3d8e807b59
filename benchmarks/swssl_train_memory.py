"""Peak memory of one SWSSL training step, per patch, and the batch that fits in 15, 40 and 80 GB.

One step is the kit's `train_step`: three views of B patches (view 1, the neighbour, the inverted
view 2) through the patch model, the twin loss, backward, clipping and SGD. Each setting
(backbone × precision × activation checkpointing) is measured at two batch sizes B₁ < B₂ and
fitted with a line:

    peak(B) = fixed + per_patch · B,   per_patch = (peak(B₂) − peak(B₁)) / (B₂ − B₁)

`fixed` holds the weights, their gradients and SGD's momentum (on a CPU also the Python process
with torch loaded). The largest batch for a memory budget M is (M − reserve − fixed) / per_patch,
where `reserve` (default 1 GB) stands for what the peak does not count: the CUDA context and the
caching allocator's slack on a GPU. Weights are random (the memory does not depend on them).

On a GPU the peak is `torch.cuda.max_memory_allocated` over the last of `--steps` steps. On a CPU
it is the peak resident memory of a fresh process per measurement (`ru_maxrss`); float16 on a
CPU is emulated and slow, so measure it there with small batches and one step.

    python benchmarks/swssl_train_memory.py                       # CPU: resnet18, float32, B 2 and 4
    python benchmarks/swssl_train_memory.py --backbones resnet18 wide_resnet50_2 --precisions fp32 fp16
    python benchmarks/swssl_train_memory.py --device cuda --backbones resnet18 wide_resnet50_2 \\
        --precisions fp32 fp16 bf16 --checkpoint both --batches 32 64
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import torch

from anomaly_lib.amp import AMP_DTYPES
from anomaly_lib.device import describe_device, pick_device
from swssl_lib.model import PatchModel
from swssl_lib.train import TWIN_LOSS_INIT_SCALE, TrainConfig, make_optimizer, train_step

BUDGETS_GB = (15, 40, 80)  # a T4; an A100 40 GB; an A100/H100 80 GB
GB = 1e9


def measure(backbone: str, batch: int, patch: int, precision: str, checkpoint: bool, device, steps: int) -> dict:
    """Peak bytes and seconds of the last of `steps` training steps at batch `batch`."""
    from anomaly_lib.amp import MixedPrecision

    torch.manual_seed(0)
    model = PatchModel(backbone=backbone, pretrained=False, checkpoint_activations=checkpoint).to(device)
    config = TrainConfig(batch_size=batch, backbone=backbone, pretrained=False, patch_size=patch)
    optimizer = make_optimizer(model, config)
    amp = MixedPrecision(device, AMP_DTYPES.get(precision), init_scale=TWIN_LOSS_INIT_SCALE)
    generator = torch.Generator().manual_seed(1)
    views = [torch.randn(batch, 3, patch, patch, generator=generator) for _ in range(3)]
    data = [*views, torch.rand(batch, generator=generator)]
    for _ in range(steps):
        if device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        loss = train_step(model, data, optimizer, config, device, amp)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated()
        del model, optimizer, data, views
        torch.cuda.empty_cache()
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports kB
    return {"peak": peak, "seconds": seconds, "loss": loss.item(), "skipped": amp.skipped_in_a_row}


def measure_in_fresh_process(args, backbone, batch, precision, checkpoint) -> dict:
    """On a CPU a process's peak memory only grows, so every measurement gets its own."""
    command = [sys.executable, __file__, "--worker", "--device", "cpu", "--backbones", backbone,
               "--batches", str(batch), str(batch), "--patch", str(args.patch), "--precisions", precision,
               "--checkpoint", "yes" if checkpoint else "no", "--steps", str(args.steps)]
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def largest_batch(budget_gb: float, fixed: float, per_patch: float, reserve_gb: float) -> int:
    return max(int((budget_gb * GB - reserve_gb * GB - fixed) // per_patch), 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--backbones", nargs="+", default=["resnet18"])
    parser.add_argument("--precisions", nargs="+", default=["fp32"], choices=["fp32", *AMP_DTYPES])
    parser.add_argument("--checkpoint", choices=["no", "yes", "both"], default="no",
                        help="activation checkpointing over the backbone's stages")
    parser.add_argument("--batches", type=int, nargs=2, default=[2, 4], metavar=("B1", "B2"))
    parser.add_argument("--patch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=2, help="steps per measurement; the last is measured")
    parser.add_argument("--reserve_gb", type=float, default=1.0, help="left out of each budget")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    device = pick_device(args.device)

    if args.worker:
        result = measure(args.backbones[0], args.batches[0], args.patch, args.precisions[0],
                         args.checkpoint == "yes", device, args.steps)
        print(json.dumps(result))
        return

    print(f"device: {describe_device(device)}, torch {torch.__version__}; patch {args.patch}, three views per "
          f"patch, batches {args.batches[0]} and {args.batches[1]}, {args.steps} step(s) each, random weights; "
          f"peak = {'max_memory_allocated' if device.type == 'cuda' else 'peak RSS of a fresh process'}; "
          f"budgets less {args.reserve_gb:g} GB reserve")
    header = (f"{'backbone':<16} {'precision':<9} {'ckpt':<4} {'peak B1':>8} {'peak B2':>8} {'per patch':>10} "
              f"{'fixed':>7} {'s/step B2':>9} " + " ".join(f"{f'B in {b} GB':>10}" for b in BUDGETS_GB))
    print(header)
    checkpoints = {"no": [False], "yes": [True], "both": [False, True]}[args.checkpoint]
    rows = []
    for backbone in args.backbones:
        for precision in args.precisions:
            for checkpoint in checkpoints:
                results = []
                for batch in args.batches:
                    if device.type == "cuda":
                        results.append(measure(backbone, batch, args.patch, precision, checkpoint, device, args.steps))
                    else:
                        results.append(measure_in_fresh_process(args, backbone, batch, precision, checkpoint))
                (b1, b2), (r1, r2) = args.batches, results
                per_patch = (r2["peak"] - r1["peak"]) / (b2 - b1)
                fixed = r1["peak"] - per_patch * b1
                fits = [largest_batch(budget, fixed, per_patch, args.reserve_gb) if per_patch > 0 else None
                        for budget in BUDGETS_GB]
                row = {"backbone": backbone, "precision": precision, "checkpoint": checkpoint,
                       "batches": args.batches, "peaks": [r1["peak"], r2["peak"]], "per_patch": per_patch,
                       "fixed": fixed, "seconds": r2["seconds"], "fits": dict(zip(BUDGETS_GB, fits))}
                rows.append(row)
                print(f"{backbone:<16} {precision:<9} {'yes' if checkpoint else 'no':<4} {r1['peak'] / GB:7.2f}G "
                      f"{r2['peak'] / GB:7.2f}G {per_patch / 2**20:8.1f}MB {fixed / GB:6.2f}G {r2['seconds']:9.2f} "
                      + " ".join(f"{fit if fit is not None else '?':>10}" for fit in fits), flush=True)
    print("per patch: the three views of one patch through forward and backward; 'B in N GB': the "
          "largest batch whose fitted peak leaves the reserve free (the authors train with batch 300)")
    if args.json:
        with open(args.json, "w") as file:
            json.dump(rows, file, indent=2)


if __name__ == "__main__":
    main()
