"""Peak memory of both scorings against disk-backed float16 banks of growing size.

For each bank size a random bank (N × 2048 channels × 784 positions, the wide_resnet50_2 /
1024-128-32 setting) is written to a temporary folder chunk by chunk, in its own process.
A second, fresh process then opens it, scores a few random test images with
``score_reference`` and ``score_patch_knn``, and reports its peak resident memory
(``ru_maxrss``), so the sizes cannot contaminate each other.

    python benchmarks/swssl_bank_memory.py                      # 250, 500, 1000, 2000 images
    python benchmarks/swssl_bank_memory.py --sizes 100 200      # quicker
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from swssl_lib.bank import FeatureBank
from swssl_lib.scoring import score_patch_knn, score_reference

CHANNELS, POSITIONS = 2048, 784


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports kB


def write_bank(path: Path, n_images: int, chunk_images: int = 16) -> None:
    """A random float16 bank on disk, written chunk by chunk (never whole in memory)."""
    rng = np.random.default_rng(0)
    bank = FeatureBank(n_images, CHANNELS, POSITIONS, path=path, dtype=np.float16)
    for start in range(0, n_images, chunk_images):
        n = min(chunk_images, n_images - start)
        bank.append(torch.from_numpy(rng.random((n, CHANNELS, POSITIONS), dtype=np.float32)))


def score_bank(path: Path, n_test: int, chunk_images: int) -> dict:
    """Open the bank, score random test features with both scorings; report time and memory."""
    bank = FeatureBank.open(path)
    test = torch.rand(n_test, CHANNELS, POSITIONS, generator=torch.Generator().manual_seed(1)).half()
    before = peak_rss_mb()
    start = time.perf_counter()
    reference = score_reference(bank, test, chunk_images=chunk_images)
    knn = score_patch_knn(bank, test, chunk_images=chunk_images)
    assert torch.isfinite(reference.image_scores).all() and torch.isfinite(knn.image_scores).all()
    return {"n_images": len(bank), "bank_gb": bank.nbytes / 1e9, "seconds": time.perf_counter() - start,
            "rss_before_mb": before, "peak_rss_mb": peak_rss_mb()}


def run_worker(*args: str) -> str:
    result = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
    return result.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[250, 500, 1000, 2000])
    parser.add_argument("--n_test", type=int, default=2, help="test images scored per bank")
    parser.add_argument("--chunk_images", type=int, default=16, help="bank images per streamed chunk")
    parser.add_argument("--workdir", default=None, help="where the banks go (default: a temp folder)")
    parser.add_argument("--worker", choices=["write", "score"], help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker == "write":
        write_bank(Path(args.path), args.sizes[0])
        print("written")
        return
    if args.worker == "score":
        print(json.dumps(score_bank(Path(args.path), args.n_test, args.chunk_images)))
        return

    print(f"banks: N × {CHANNELS} channels × {POSITIONS} positions, float16 on disk; "
          f"{args.n_test} test images, chunks of {args.chunk_images} bank images; "
          "both scorings; each size scored in a fresh process")
    print(f"{'images':>7} {'bank GB':>8} {'RSS after imports':>18} {'peak RSS':>9} {'seconds':>8}")
    results = []
    with tempfile.TemporaryDirectory(dir=args.workdir) as workdir:
        for n_images in args.sizes:
            path = Path(workdir) / f"bank_{n_images}.npy"
            run_worker("--worker", "write", "--sizes", str(n_images), "--path", str(path))
            result = json.loads(run_worker("--worker", "score", "--path", str(path),
                                           "--n_test", str(args.n_test),
                                           "--chunk_images", str(args.chunk_images)))
            path.unlink()
            results.append(result)
            print(f"{result['n_images']:7d} {result['bank_gb']:8.2f} {result['rss_before_mb']:15.0f} MB "
                  f"{result['peak_rss_mb']:6.0f} MB {result['seconds']:8.1f}")
    growth = results[-1]["peak_rss_mb"] / results[0]["peak_rss_mb"] - 1
    print(f"peak memory grows {growth:+.1%} from {results[0]['n_images']} to {results[-1]['n_images']} "
          f"images (bank {results[0]['bank_gb']:.1f} → {results[-1]['bank_gb']:.1f} GB)")


if __name__ == "__main__":
    main()
