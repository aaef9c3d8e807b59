"""Batched sliding-window features vs the authors' one-position-at-a-time loop.

The loop (``looped_window_features``) runs the model once per window position and scores test
images one at a time, as the authors' evaluation and test loader do. The batched path
(``sliding_window_features``) gathers the windows of all images from a strided view and runs
them in chunks, in inference mode, optionally channels-last and with BatchNorm folded into the
convolutions (``fold_batchnorm``, as ``swssl_lib.evaluate`` does). Same model (eval mode), same images, same sizes; the features must agree to
1e-4. Timings are the best of ``--repeats`` interleaved rounds.

    python benchmarks/swssl_features.py                       # 256/64/32 and 512/128/32, resnet18
    python benchmarks/swssl_features.py --device cuda --backbone wide_resnet50_2 \\
        --sizes 1024/128/32 --skip_loop                       # GPU images per second
    python benchmarks/swssl_features.py --device cuda --backbone wide_resnet50_2 \\
        --sizes 1024/128/32 --skip_loop --amp_dtype bf16      # the same under autocast
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from anomaly_lib.amp import AMP_DTYPES, MixedPrecision
from anomaly_lib.device import describe_device, pick_device
from anomaly_lib.phantoms import chest_phantom
from swssl_lib.model import PatchModel, fold_batchnorm
from swssl_lib.sliding import WindowGrid, looped_window_features, sliding_window_features


def phantom_images(n: int, size: int, seed: int = 0) -> torch.Tensor:
    """n chest phantoms as normalised float (n, 3, size, size), half of them abnormal."""
    rng = np.random.default_rng(seed)
    images = np.stack([chest_phantom(rng, size, abnormal=i % 2 == 1)[0] for i in range(n)])
    images = torch.from_numpy(images).float() / 127.5 - 1  # (n, size, size) in [-1, 1]
    return images[:, None].expand(-1, 3, -1, -1).contiguous()  # (n, 3, size, size)


def timed(function, device) -> tuple[float, torch.Tensor]:
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    result = function()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, result


def benchmark(model, device, size, patch, step, args) -> None:
    images = phantom_images(args.n_images, size).to(device)
    grid = WindowGrid(size, size, patch, step)
    print(f"\n{size}×{size}, patch {patch}, step {step}: {grid.rows}×{grid.cols} = {grid.positions} "
          f"windows per image, {args.n_images} images")

    def loop():  # test images one at a time, one window position at a time
        return torch.cat([looped_window_features(model, image[None], patch, step) for image in images])

    folded = fold_batchnorm(model)  # BatchNorm merged into the convolutions: same features

    precision = MixedPrecision(device, AMP_DTYPES.get(args.amp_dtype))  # fp32: no autocast

    def batched(chunk, channels_last, fold):
        def run():
            with precision.autocast():
                return sliding_window_features(folded if fold else model, images, patch, step,
                                               chunk_size=chunk, channels_last=channels_last)
        return run

    methods = {} if args.skip_loop else {"loop": loop}
    for chunk in args.chunks:
        for channels_last, fold in ((False, False), (True, False), (True, True)):
            methods[(chunk, channels_last, fold)] = batched(chunk, channels_last, fold)
    # Repeats are interleaved (every method once per round) and the best time is kept, so a
    # busy moment on a shared machine does not favour one method.
    best, features = {name: float("inf") for name in methods}, {}
    for _ in range(args.repeats):
        for name, function in methods.items():
            seconds, features[name] = timed(function, device)
            best[name] = min(best[name], seconds)

    if not args.skip_loop:
        print(f"  {'per-position loop (as the authors)':<49} {best['loop'] / args.n_images * 1e3:8.1f} ms/image")
    for name in methods:
        if name == "loop":
            continue
        chunk, channels_last, fold = name
        layout = "channels_last" if channels_last else "contiguous"
        label = f"{layout}{' + BN folded' if fold else ''}"
        line = (f"  batched, chunk {chunk:4d}, {label:<26}"
                f" {best[name] / args.n_images * 1e3:8.1f} ms/image, "
                f"{args.n_images / best[name]:7.2f} images/s")
        if not args.skip_loop:
            difference = (features[name] - features["loop"]).abs().max().item()
            assert difference <= 1e-4 or args.amp_dtype != "fp32", f"features differ by {difference}"
            line += f", {best['loop'] / best[name]:4.2f}× the loop, max |Δ| {difference:.1e}"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["256/64/32", "512/128/32"],
                        help="image/patch/step settings")
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--n_images", type=int, default=4)
    parser.add_argument("--chunks", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip_loop", action="store_true", help="only time the batched path")
    parser.add_argument("--amp_dtype", choices=["fp32", *AMP_DTYPES], default="fp32",
                        help="run the batched path under autocast in this type (the loop stays float32)")
    args = parser.parse_args()

    device = pick_device(args.device)
    torch.manual_seed(0)
    model = PatchModel(backbone=args.backbone, pretrained=False).to(device).eval()
    print(f"device: {describe_device(device)}, backbone {args.backbone} (random weights, eval mode), "
          f"batched path in {args.amp_dtype}, "
          f"torch {torch.__version__}, load average {os.getloadavg()[0]:.1f}")
    for setting in args.sizes:
        size, patch, step = (int(v) for v in setting.split("/"))
        benchmark(model, device, size, patch, step, args)


if __name__ == "__main__":
    main()
