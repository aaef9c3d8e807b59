"""Mixed precision against float32: both methods, the same 20 training steps on phantoms.

For each method the runs start from the same weights and see the same batches (same seeds); only
the precision differs. Printed per loss: float32's value and each precision's difference at the
first step that has it (same weights: the precision's own effect), at the last step (after the
runs have drifted apart, as any two runs that round differently do), and the mean |difference|
over all steps; and how many steps the float16 gradient scaler skipped. For scale, a float32 run
whose initial weights are multiplied by 1 + 10⁻⁷·noise (float32 rounding) shows how far two runs
drift apart from rounding alone ("fp32~").

    python benchmarks/amp_agreement.py                      # CPU: float16 (emulated, slow) vs float32
    python benchmarks/amp_agreement.py --device cuda --precisions fp16 bf16 --swssl_backbone wide_resnet50_2 \\
        --swssl_image 512 --swssl_patch 128 --swssl_batch 64
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import torch

from anomaly_lib.amp import AMP_DTYPES, MixedPrecision
from anomaly_lib.device import describe_device, pick_device
from anomaly_lib.phantoms import make_phantom_dataset

PERTURBED = "fp32~"  # float32, initial weights perturbed at rounding level


def perturb(*networks) -> None:
    """Multiply every weight by 1 + 1e-7·noise, from a private generator (training draws unchanged)."""
    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for network in networks:
            for p in network.parameters():
                p.mul_(1 + 1e-7 * torch.randn(p.shape, generator=generator).to(p.device))


def amp_dtype_of(precision: str) -> str:
    return "auto" if precision in ("fp32", PERTURBED) else precision


def sagan_runs(args, device, root: Path) -> dict:
    """{precision: [losses of each step]} for SAGAN at a demo-sized config."""
    from sagan_lib.config import SaganConfig
    from sagan_lib.data import MedADTrainSet
    from sagan_lib.train import SaganTrainer

    counts = {"train_normal": 64, "unlabeled_normal": 26, "unlabeled_abnormal": 38, "test_normal": 2,
              "test_abnormal": 2}
    data = make_phantom_dataset(root / "medad", "medad", 64, counts, seed=0)
    train_set = MedADTrainSet(data, 64, progress=False)
    runs = {}
    for precision in ["fp32", PERTURBED, *args.precisions]:
        config = SaganConfig(dataset="folder", data_root=str(data), g_conv_dim=args.sagan_conv_dim,
                             d_conv_dim=args.sagan_conv_dim, g_repeat_num=args.sagan_repeat_num,
                             batch_size=args.sagan_batch, device=str(device), num_iters=10 ** 6,
                             amp_dtype=amp_dtype_of(precision),
                             model_save_dir=str(root / "models"), sample_dir=str(root / "samples"))
        trainer = SaganTrainer(config, train_set, log=lambda *_: None)
        if precision == PERTURBED:
            perturb(trainer.G, trainer.D)
        start = time.perf_counter()
        runs[precision] = [trainer.train_step() for _ in range(args.steps)]
        print(f"  SAGAN {precision}: {time.perf_counter() - start:.1f} s", flush=True)
    return runs


def swssl_runs(args, device, root: Path) -> dict:
    """{precision: [{'twin loss': …} of each step]} for SWSSL on chest phantoms."""
    from swssl_lib.data import SWSSLDataset, read_images
    from swssl_lib.model import PatchModel
    from swssl_lib.train import TWIN_LOSS_INIT_SCALE, TrainConfig, make_optimizer, train_step

    data = make_phantom_dataset(root / "chest", "chest", args.swssl_image,
                                {"train_normal": 16, "test_normal": 1, "test_abnormal": 1}, seed=0)
    patches = SWSSLDataset(read_images(data, "chest", "train", args.swssl_image, progress=False), patch=True,
                           patch_size=args.swssl_patch, step_size=args.swssl_patch // 4)
    torch.manual_seed(0)  # the same patches and augmentations for every precision
    loader = torch.utils.data.DataLoader(patches, batch_size=args.swssl_batch, shuffle=True)
    batches = []
    while len(batches) < args.steps:
        batches += [batch for batch in loader if len(batch[0]) == args.swssl_batch]
    config = TrainConfig(batch_size=args.swssl_batch, backbone=args.swssl_backbone, pretrained=False)
    runs = {}
    for precision in ["fp32", PERTURBED, *args.precisions]:
        torch.manual_seed(0)
        model = PatchModel(backbone=args.swssl_backbone, pretrained=False).to(device)
        if precision == PERTURBED:
            perturb(model)
        optimizer = make_optimizer(model, config)
        amp = MixedPrecision(device, AMP_DTYPES.get(amp_dtype_of(precision)), init_scale=TWIN_LOSS_INIT_SCALE)
        start, runs[precision] = time.perf_counter(), []
        for batch in batches[:args.steps]:
            scale = amp.scale
            loss = train_step(model, batch, optimizer, config, device, amp).item()
            runs[precision].append({"twin loss": loss, "skipped": float(amp.scale < scale)})
        print(f"  SWSSL {precision}: {time.perf_counter() - start:.1f} s", flush=True)
    return runs


def report(method: str, runs: dict) -> None:
    """Per loss: float32's value, and each precision's difference at the first step that has the
    loss (the weights are still equal there, up to the steps before it), at the last, and on average."""
    reference = runs["fp32"]
    names = list(dict.fromkeys(name for step in reference for name in step if not name.endswith("skipped")))
    others = [precision for precision in runs if precision != "fp32"]
    print(f"\n{method}: Δ = precision − float32 at the first and the last step that have the loss, "
          f"and the mean |Δ| over all such steps")
    print(f"  {'loss':<14} {'first':>10} {'last':>10} "
          + " ".join(f"{'Δ ' + p + ' first / last (mean |Δ|)':>38}" for p in others))
    for name in names:
        values = [step[name] for step in reference if name in step]
        cells = []
        for precision in others:
            differences = [b[name] - a[name] for a, b in zip(reference, runs[precision]) if name in a and name in b]
            finite = [abs(d) for d in differences if math.isfinite(d)]
            cells.append(f"{differences[0]:+10.2e} / {differences[-1]:+10.2e} ({sum(finite) / max(len(finite), 1):8.2e})")
        print(f"  {name:<14} {values[0]:10.4f} {values[-1]:10.4f} " + " ".join(f"{cell:>38}" for cell in cells))
    for precision, steps in runs.items():
        if precision != "fp16":
            continue  # only float16 has a scaler
        skipped = {name: int(sum(step.get(name, 0.0) for step in steps))
                   for name in dict.fromkeys(n for step in steps for n in step if n.endswith("skipped"))}
        print(f"  {precision}: steps skipped by the float16 scaler: "
              + ", ".join(f"{name} {count}" for name, count in skipped.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precisions", nargs="+", default=["fp16"], choices=list(AMP_DTYPES))
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--methods", nargs="+", default=["sagan", "swssl"], choices=["sagan", "swssl"])
    parser.add_argument("--sagan_conv_dim", type=int, default=8, help="8: the demo; 64: the authors")
    parser.add_argument("--sagan_repeat_num", type=int, default=1, help="1: the demo; 6: the authors")
    parser.add_argument("--sagan_batch", type=int, default=16)
    parser.add_argument("--swssl_backbone", default="resnet18")
    parser.add_argument("--swssl_image", type=int, default=64)
    parser.add_argument("--swssl_patch", type=int, default=32)
    parser.add_argument("--swssl_batch", type=int, default=8)
    args = parser.parse_args()
    device = pick_device(args.device)
    print(f"device: {describe_device(device)}, torch {torch.__version__}; {args.steps} steps; "
          f"SAGAN conv_dim {args.sagan_conv_dim}, repeat {args.sagan_repeat_num}, batch {args.sagan_batch}, 64×64; "
          f"SWSSL {args.swssl_backbone} (random weights), {args.swssl_image}² phantoms, patch {args.swssl_patch}, "
          f"batch {args.swssl_batch}")
    with tempfile.TemporaryDirectory() as folder:
        if "sagan" in args.methods:
            report("SAGAN", sagan_runs(args, device, Path(folder)))
        if "swssl" in args.methods:
            report("SWSSL", swssl_runs(args, device, Path(folder)))


if __name__ == "__main__":
    main()
