"""Command line: ``python -m anomaly_lib phantoms --layout medad --out DIR --image-size 64``.

``python -m anomaly_lib colab --repo OWNER/REPO`` points the notebooks' Colab badges
and setup cells at a fork (see ``anomaly_lib/colab.py``).

``python -m anomaly_lib compare --quick`` compares methods, ablations and baselines over
seeds on one split (see ``anomaly_lib/compare.py``).
"""

from __future__ import annotations

import argparse
import sys
import time

from .layouts import read_layout
from .phantoms import DEFAULT_COUNTS, make_phantom_dataset


def parse_image_size(text: str):
    """Parse "64" -> 64 and "256x192" -> (256, 192), i.e. (height, width)."""
    try:
        sides = [int(side) for side in text.lower().split("x")]
    except ValueError:
        sides = []
    if len(sides) not in (1, 2) or min(sides, default=0) < 1:
        raise argparse.ArgumentTypeError(f"expected 64 or HxW like 256x192; got {text!r}")
    return sides[0] if len(sides) == 1 else tuple(sides)


def parse_count(text: str) -> tuple[str, int]:
    """Parse "test_normal=20" -> ("test_normal", 20)."""
    key, _, value = text.partition("=")
    if not key or not value.isdigit():
        raise argparse.ArgumentTypeError(f"expected KEY=N like test_normal=20; got {text!r}")
    return key, int(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m anomaly_lib", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    phantoms = commands.add_parser("phantoms", help="write a synthetic dataset")
    phantoms.add_argument("--layout", choices=list(DEFAULT_COUNTS), default="medad")
    phantoms.add_argument("--out", required=True, help="output folder")
    phantoms.add_argument(
        "--image-size", type=parse_image_size, default=64, help="64 (square) or HxW such as 256x192"
    )
    phantoms.add_argument("--seed", type=int, default=0)
    phantoms.add_argument(
        "--count",
        type=parse_count,
        action="append",
        default=[],
        metavar="KEY=N",
        help="images in one split, e.g. test_normal=20 (repeatable)",
    )
    colab = commands.add_parser(
        "colab", help="point the Colab badges and setup cells at another GitHub repository"
    )
    colab.add_argument("--repo", required=True, help="OWNER/REPO of your fork on GitHub")
    colab.add_argument("--root", default=".", help="the kit's top folder (default: here)")
    add_compare_command(commands)
    return parser


def add_compare_command(commands) -> None:
    """The ``compare`` subcommand's flags; the work is in ``anomaly_lib/compare.py``."""
    compare = commands.add_parser(
        "compare", help="methods, ablations and baselines over seeds on one split: a table and a figure"
    )
    compare.add_argument("--medad", help="a Med-AD folder (images/ + data.json); --quick without it uses phantoms")
    compare.add_argument("--chest", help="a chest-layout folder: SWSSL trains and tests there instead")
    compare.add_argument("--methods", help="comma-separated: sagan, sagan-no-critic, sagan-no-synthetic, "
                         "sagan-l1-only, sagan-no-codes, swssl, mean-image, pca, autoencoder, knn")
    compare.add_argument("--seeds", type=int, help="training runs per method (default 3)")
    compare.add_argument("--budget", action="append", metavar="METHOD=N",
                         help="iterations (swssl: epochs); sagan=N applies to every SAGAN variant (repeatable)")
    compare.add_argument("--image-size", dest="image_size", type=int, help="side in pixels (default 64)")
    compare.add_argument("--sagan-set", dest="sagan_set", action="append", metavar="KEY=VALUE",
                         help="a SaganConfig field for every SAGAN run, e.g. g_conv_dim=16 (repeatable)")
    compare.add_argument("--swssl-set", dest="swssl_set", action="append", metavar="KEY=VALUE",
                         help="image_size, patch_size, step_size, backbone, batch_size or lr (repeatable)")
    compare.add_argument("--pca-components", dest="pca_components", type=int, help="default 8")
    compare.add_argument("--latent-size", dest="latent_size", type=int, help="the autoencoder's (default 16)")
    compare.add_argument("--autoencoder-width", dest="autoencoder_width", type=int,
                         help="channels of the autoencoder's first layer (default 32; --quick: 16)")
    compare.add_argument("--knn-k", dest="knn_k", type=int, help="neighbours (default 1)")
    compare.add_argument("--pretrained", action=argparse.BooleanOptionalAction, default=None,
                         help="ImageNet weights for knn and swssl (default: yes; --quick: no)")
    compare.add_argument("--device", help="auto (default), cpu, cuda, mps")
    compare.add_argument("--out", default="compare_output", help="output folder (default compare_output)")
    compare.add_argument("--quick", action="store_true", help="small budgets, random weights, phantoms: minutes on a CPU")
    compare.add_argument("--progress", action="store_true", help="show progress bars")


def run_compare(args) -> int:
    """The ``compare`` subcommand."""
    from .compare import run_from_args

    try:
        run_from_args(args)
    except (ValueError, FileExistsError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def run_colab(args) -> int:
    """The ``colab`` subcommand: rewrite GITHUB_REPO, the notebooks and the README."""
    from .colab import set_repository

    try:
        changed = set_repository(args.repo, root=args.root)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not changed:
        print(f"already pointing at {args.repo}: nothing to change")
        return 0
    print(f"now pointing at {args.repo}; changed {len(changed)} files:")
    for path in changed:
        print(f"  {path}")
    print("commit them and push to your fork; the badges then open your copy in Colab")
    return 0


def main(argv=None) -> int:
    """Entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "colab":
        return run_colab(args)
    if args.command == "compare":
        return run_compare(args)
    started = time.perf_counter()
    try:
        out_dir = make_phantom_dataset(
            args.out,
            layout=args.layout,
            image_size=args.image_size,
            counts=dict(args.count),
            seed=args.seed,
        )
    except (ValueError, FileExistsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - started

    splits = read_layout(out_dir, args.layout)  # read back, as the methods will
    print(f"wrote a {args.layout} phantom dataset to {out_dir} in {seconds:.1f} s")
    for split, paths in splits.items():
        print(f"  {split:<20} {len(paths):>5} images")
    return 0


if __name__ == "__main__":
    sys.exit(main())
