"""Batched sliding-window features vs the authors' one-position-at-a-time loop.

The loop (``looped_window_features``) runs the model once per window position and scores test
images one at a time, as the authors' evaluation and test loader do. The batched path
(``sliding_window_features``) gathers the windows of all images from a strided view and runs
them in chunks. Same model (eval mode), same images, same sizes; the features must agree to
1e-4. Timings are the best of ``--repeats`` runs.

    python benchmarks/swssl_features.py                       # 256/64/32 and 512/128/32, resnet18
    python benchmarks/swssl_features.py --device cuda --backbone wide_resnet50_2 \\
        --sizes 1024/128/32 --skip_loop                       # GPU images per second
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from anomaly_lib.device import describe_device, pick_device
from anomaly_lib.phantoms import chest_phantom
from swssl_lib.model import PatchModel
from swssl_lib.sliding import WindowGrid, looped_window_features, sliding_window_features


def phantom_images(n: int, size: int, seed: int = 0) -> torch.Tensor:
    """n chest phantoms as normalised float (n, 3, size, size), half of them abnormal."""
    rng = np.random.default_rng(seed)
    images = np.stack([chest_phantom(rng, size, abnormal=i % 2 == 1)[0] for i in range(n)])
    images = torch.from_numpy(images).float() / 127.5 - 1  # (n, size, size) in [-1, 1]
    return images[:, None].expand(-1, 3, -1, -1).contiguous()  # (n, 3, size, size)


def best_time(function, repeats: int, device) -> tuple[float, torch.Tensor]:
    best, result = float("inf"), None
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        result = function()
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best, result


def benchmark(model, device, size, patch, step, args) -> None:
    images = phantom_images(args.n_images, size)
    grid = WindowGrid(size, size, patch, step)
    print(f"\n{size}×{size}, patch {patch}, step {step}: {grid.rows}×{grid.cols} = {grid.positions} "
          f"windows per image, {args.n_images} images")

    def batched(chunk, channels_last):
        return lambda: sliding_window_features(model, images.to(device), patch, step,
                                               chunk_size=chunk, channels_last=channels_last)

    reference = None
    if not args.skip_loop:
        def loop():  # test images one at a time, one window position at a time
            return torch.cat([looped_window_features(model, image[None].to(device), patch, step)
                              for image in images])

        loop_seconds, reference = best_time(loop, args.repeats, device)
        print(f"  per-position loop           {loop_seconds / args.n_images * 1e3:8.1f} ms/image")
    for chunk in args.chunks:
        for channels_last in (False, True):
            seconds, features = best_time(batched(chunk, channels_last), args.repeats, device)
            line = (f"  batched, chunk {chunk:4d}, {'channels_last' if channels_last else 'contiguous   '}"
                    f" {seconds / args.n_images * 1e3:8.1f} ms/image, "
                    f"{args.n_images / seconds:7.2f} images/s")
            if reference is not None:
                difference = (features - reference).abs().max().item()
                assert difference <= 1e-4, f"features differ by {difference}"
                line += f", {loop_seconds / seconds:4.2f}× the loop, max |Δ| {difference:.1e}"
            print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["256/64/32", "512/128/32"],
                        help="image/patch/step settings")
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--n_images", type=int, default=8)
    parser.add_argument("--chunks", type=int, nargs="+", default=[32, 64, 128])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip_loop", action="store_true", help="only time the batched path")
    args = parser.parse_args()

    device = pick_device(args.device)
    torch.manual_seed(0)
    model = PatchModel(backbone=args.backbone, pretrained=False).to(device).eval()
    print(f"device: {describe_device(device)}, backbone {args.backbone} (random weights, eval mode), "
          f"torch {torch.__version__}")
    for setting in args.sizes:
        size, patch, step = (int(v) for v in setting.split("/"))
        benchmark(model, device, size, patch, step, args)


if __name__ == "__main__":
    main()
