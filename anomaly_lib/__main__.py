"""Command line: ``python -m anomaly_lib phantoms --layout medad --out DIR --image-size 64``.

``python -m anomaly_lib colab --repo OWNER/REPO`` points the notebooks' Colab badges
and setup cells at a fork (see ``anomaly_lib/colab.py``).

``python -m anomaly_lib site --out site`` builds the rendered course (see ``anomaly_lib/site.py``).

``python -m anomaly_lib prepare medad|dbt ...`` turns your own images, or a download of
the Breast-Cancer-Screening-DBT collection, into a layout (see ``anomaly_lib/prepare.py``);
``prepare medmnist`` does it for a MedMNIST set (``anomaly_lib/medmnist.py``).

``python -m anomaly_lib readme-figures [--out docs/images] [--smoke]`` regenerates every
picture the README shows: it runs both demos and draws the generator diagram.

``python -m anomaly_lib compare --quick`` compares methods, ablations and baselines over
seeds on one split (see ``anomaly_lib/compare.py``).

Every subcommand runs through ``anomaly_lib.cli.run_command``: an error is one line
``error: …`` and exit status 2; ``python -m anomaly_lib --debug SUBCOMMAND …`` shows the
traceback instead. Output folders are checked for being writable before any work starts.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from .cli import add_debug_flag, run_command
from .files import writing
from .layouts import read_layout
from .phantoms import DEFAULT_COUNTS, DIFFICULTIES, make_phantom_dataset
from .runs import check_writable

FAILURE = 2  # the exit status of an error, as argparse gives for a usage error


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
    add_debug_flag(parser)  # before the subcommand: python -m anomaly_lib --debug compare ...
    commands = parser.add_subparsers(dest="command", required=True)
    phantoms = commands.add_parser("phantoms", help="write a synthetic dataset")
    phantoms.add_argument("--layout", choices=list(DEFAULT_COUNTS), default="medad")
    phantoms.add_argument("--out", required=True, help="output folder")
    phantoms.add_argument(
        "--image-size", type=parse_image_size, default=64, help="64 (square) or HxW such as 256x192"
    )
    phantoms.add_argument("--seed", type=int, default=0)
    phantoms.add_argument("--difficulty", choices=DIFFICULTIES, default="easy",
                          help="subtle: warped, textured normals and small, faint lesions (chest layouts)")
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
    site = commands.add_parser(
        "site", help="build the rendered course: every notebook executed, as HTML pages with an index"
    )
    site.add_argument("--out", default="site", help="folder for the pages (default: site)")
    site.add_argument("--smoke", action="store_true", help="smoke mode, as KIT_SMOKE=1 (fast, small numbers)")
    site.add_argument("--notebook", action="append", default=[], metavar="NAME",
                      help="build only this notebook's page, e.g. 07_swssl_sliding_windows_and_augmentations (repeatable)")
    site.add_argument("--cell-timeout", type=int, default=None, metavar="SECONDS",
                      help="fail a cell that runs longer (default: 60 in smoke mode, or KIT_CELL_TIMEOUT; 3600 otherwise)")
    readme = commands.add_parser(
        "readme-figures", help="regenerate the README's pictures: run both demos, draw a diagram"
    )
    readme.add_argument("--out", default="docs/images", help="folder for the PNGs (default: docs/images)")
    readme.add_argument(
        "--smoke", action="store_true", help="tiny demo settings, for tests (the pictures mean nothing)"
    )
    add_prepare_parser(commands)
    add_compare_command(commands)
    return parser


def add_prepare_parser(commands) -> None:
    """The ``prepare medad``, ``prepare dbt`` and ``prepare medmnist`` subcommands."""
    from . import medmnist
    from .prepare import MEDAD_SPLITS

    prepare = commands.add_parser("prepare", help="turn your own images or a DBT download into a layout")
    layouts = prepare.add_subparsers(dest="layout", required=True)
    medad = layouts.add_parser(
        "medad", help="folders or a CSV of images -> Med-AD layout (SAGAN)",
        description="Split normal and abnormal images (by patient when ids are given) into the "
        "Med-AD layout: images/ + data.json. Defaults: 20% of each class to test, the largest "
        "train normal set whose rest fits SAGAN's unlabeled mix at --ar, the rest unlabeled.")
    source = medad.add_mutually_exclusive_group(required=True)
    source.add_argument("--normal", nargs="+", metavar="DIR", help="folders of normal images")
    source.add_argument("--csv", help="CSV of path,label[,patient_id] (label 0/1 or normal/abnormal)")
    medad.add_argument("--abnormal", nargs="+", metavar="DIR", help="folders of abnormal images")
    medad.add_argument("--patient-from-subfolder", action="store_true",
                       help="the first subfolder under --normal/--abnormal names the patient")
    for split in MEDAD_SPLITS:
        medad.add_argument(f"--{split.replace('_', '-')}", type=parse_count_value, metavar="N",
                           help=f"images in {split} (default: see above)")
    medad.add_argument("--test-fraction", type=float, default=0.2,
                       help="default share of each class in the test split (default 0.2)")
    medad.add_argument("--ar", type=float, default=0.6,
                       help="SAGAN's abnormal ratio the default train size is fitted to (default 0.6)")
    medad.add_argument("--score-per-patient", action="store_true",
                       help="name files so SAGAN averages a test patient's images of one label")
    dbt = layouts.add_parser(
        "dbt", help="Breast-Cancer-Screening-DBT download -> DBT layout (SWSSL) + boxes.json",
        description="Export normal views' slices (split by patient) and the lesion slices named in "
        "the boxes table, with boxes.json, from the collection's DICOM tree and CSV tables.")
    dbt.add_argument("--source", required=True,
                     help="download folder: the DICOM tree (paths as in the file-path table) and the CSVs")
    dbt.add_argument("--tables", nargs="+", metavar="CSV",
                     help="the collection's CSV tables (default: every *.csv in --source)")
    dbt.add_argument("--slices-per-view", type=int, default=1,
                     help="normal slices per view: 1 = the middle one (default), more = spread over the middle half")
    dbt.add_argument("--val-fraction", type=float, default=0.2,
                     help="share of patients without lesions that go to val (default 0.2)")
    medmnist.add_parser(layouts)
    for sub in (medad, dbt):
        sub.add_argument("--out", required=True, help="output folder (new or empty)")
        sub.add_argument("--image-size", type=parse_image_size,
                         help="resize to 256 or HxW such as 1024x768 (default: keep each image's size)")
        sub.add_argument("--seed", type=int, default=0)
        sub.add_argument("--overwrite", action="store_true", help="replace an earlier prepare output in --out")
        sub.add_argument("--max-pixels", type=int,
                         help="raise PIL's decompression-bomb limit for real large images (0: no limit)")
        sub.add_argument("--workers", type=int, help="reading threads (default: Python's choice)")
        sub.add_argument("--follow-symlinks", "--follow_symlinks", dest="follow_symlinks", action="store_true",
                         help="read links that lead out of the input folders (refused by default)")


def parse_count_value(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0; got {text!r}")
    return int(text)


def run_prepare(args) -> int:
    """The ``prepare`` subcommand: write the layout, then print what was written."""
    from PIL import Image

    from . import medmnist
    from .prepare import (
        MEDAD_SPLITS,
        prepare_dbt,
        prepare_medad,
        sources_from_csv,
        sources_from_folders,
    )

    if getattr(args, "max_pixels", None) is not None:  # prepare medmnist has no such flag
        Image.MAX_IMAGE_PIXELS = args.max_pixels or None
    started = time.perf_counter()
    if args.layout == "medmnist":
        summary = medmnist.run(args)
    elif args.layout == "medad":
        if args.normal and not args.abnormal:
            raise ValueError("--normal needs --abnormal too (folders of abnormal images)")
        if args.csv and (args.abnormal or args.patient_from_subfolder):
            raise ValueError("--abnormal and --patient-from-subfolder go with --normal, not --csv")
        if args.csv:
            sources, inputs = sources_from_csv(args.csv, args.follow_symlinks), []
        else:
            sources = sources_from_folders(args.normal, args.abnormal, args.patient_from_subfolder,
                                           args.follow_symlinks)
            inputs = args.normal + args.abnormal
        counts = {split: getattr(args, split) for split in MEDAD_SPLITS if getattr(args, split) is not None}
        summary = prepare_medad(sources, args.out, counts, args.test_fraction, args.ar, args.seed,
                                args.image_size, args.score_per_patient, args.overwrite, inputs,
                                args.workers)
    else:
        summary = prepare_dbt(args.source, args.out, args.tables, args.slices_per_view, args.val_fraction,
                              args.seed, args.image_size, args.overwrite, args.workers,
                              follow_symlinks=args.follow_symlinks)
    seconds = time.perf_counter() - started
    print(f"wrote a {summary.get('layout', args.layout)} layout to {args.out} in {seconds:.1f} s")
    for split, count in summary["counts"].items():
        print(f"  {split:<28} {count:>6} images")
    if summary.get("unused"):
        print(f"  not used (beyond the split sizes): {summary['unused']} images")
    if summary.get("missing_views"):
        print(f"  skipped {summary['missing_views']} views whose file is not under {args.source} "
              f"(first: {summary['first_missing']})")
    if summary.get("flipped"):
        print(f"  flipped {summary['flipped']} slices so the breast lies on the side of its view")
    if summary["mapped"]:
        print(f"  mapped to 8 bits by: {summary['mapped']} (rules: anomaly_lib/images.py)")
    if summary.get("sagan"):
        print(f"  warning: SAGAN cannot train on this folder as it is: {summary['sagan']}")
    return 0


# README picture → (demo, the file that demo writes to its --save_dir)
README_DEMO_FIGURES = {
    "sagan_heatmaps.png": ("sagan", "heatmaps.png"),
    "sagan_roc_pr.png": ("sagan", "roc_pr.png"),
    "swssl_heatmaps.png": ("swssl", "heatmaps_patch_knn.png"),
}
# Pictures stored with a 256-colour palette (a third of the bytes): flat colours, and SAGAN's
# 64×64 images drawn as blocks, look the same. The SWSSL overlays are smooth and would show
# bands, so they are shrunk instead when they are too large.
README_PALETTE = {"sagan_heatmaps.png", "sagan_roc_pr.png", "sagan_generator.png"}
def add_compare_command(commands) -> None:
    """The ``compare`` subcommand's flags; the work is in ``anomaly_lib/compare.py``."""
    from .compare import FAMILIES, QUICK_IMAGES, SETTINGS_OF_METHODS

    compare = commands.add_parser(
        "compare", help="methods, ablations and baselines over seeds on one split: a table and a figure"
    )
    compare.add_argument("--medad", help="a Med-AD folder (images/ + data.json); --quick without it uses phantoms")
    compare.add_argument("--chest", help="a chest-layout folder: SWSSL trains and tests there instead")
    compare.add_argument("--methods", help="comma-separated: sagan, sagan-no-critic, sagan-no-synthetic, "
                         "sagan-l1-only, sagan-no-codes, swssl, mean-image, pca, autoencoder, knn")
    compare.add_argument("--seeds", type=int, help="training runs per method (default 3)")
    compare.add_argument("--budget", action="append", metavar="METHOD=N",
                         help="iterations (swssl: epochs); sagan=N applies to every SAGAN variant (repeatable); "
                              "overrides --images for that method")
    compare.add_argument("--images", type=int, metavar="N",
                         help="matched budgets: every trained method sees N normal training images (the fewest "
                              f"iterations or epochs that reach N; --quick: {QUICK_IMAGES})")
    compare.add_argument("--image-size", dest="image_size", type=int, help="side in pixels (default 64)")
    for name in SETTINGS_OF_METHODS:  # --sagan-set, --swssl-set, --autoencoder-set
        compare.add_argument(f"--{name}-set", dest=f"{name}_set", action="append", metavar="KEY=VALUE",
                             help=f"a setting of every {name} run, one of {', '.join(FAMILIES[name].setting_types)} "
                                  "(repeatable)")
    compare.add_argument("--pca-components", dest="pca_components", type=int, help="default 8")
    compare.add_argument("--knn-k", dest="knn_k", type=int, help="neighbours (default 1)")
    compare.add_argument("--pretrained", action=argparse.BooleanOptionalAction, default=None,
                         help="ImageNet weights for knn and swssl (default: yes; --quick: no)")
    compare.add_argument("--device", help="auto (default), cpu, cuda, mps")
    compare.add_argument("--out", default="compare_output", help="output folder (default compare_output)")
    compare.add_argument("--quick", action="store_true", help="small networks and matched budgets, random weights, phantoms: minutes on a CPU")
    compare.add_argument("--difficulty", choices=DIFFICULTIES, default="easy",
                         help="the phantoms --quick makes without --medad: easy (default) or subtle")
    compare.add_argument("--progress", action="store_true", help="show progress bars")


def run_compare(args) -> int:
    """The ``compare`` subcommand."""
    from .compare import run_from_args

    run_from_args(args)
    return 0


def run_colab(args) -> int:
    """The ``colab`` subcommand: rewrite GITHUB_REPO, the notebooks and the README."""
    from .colab import set_repository

    changed = set_repository(args.repo, root=args.root)
    if not changed:
        print(f"already pointing at {args.repo}: nothing to change")
        return 0
    print(f"now pointing at {args.repo}; changed {len(changed)} files:")
    for path in changed:
        print(f"  {path}")
    print("commit them and push to your fork; the badges then open your copy in Colab")
    return 0


README_PICTURE_BYTES = 300_000  # per picture, to keep the repository small


def save_for_readme(source: Path, destination: Path, palette: bool = False,
                    budget: int = README_PICTURE_BYTES) -> float:
    """Copy a PNG as RGB (the figures are on white, so alpha only costs bytes) or with a
    256-colour ``palette``, shrunk in 10 % steps until the file fits ``budget`` bytes;
    returns the scale it ended at."""
    from PIL import Image

    with Image.open(source) as opened:
        image = opened.convert("RGB")
    if palette:
        image = image.quantize(colors=256)
    picture, scale = image, 1.0
    while True:
        with writing(destination):
            picture.save(destination, optimize=True)
        if destination.stat().st_size <= budget:
            return scale
        scale *= 0.9
        size = (round(image.width * scale), round(image.height * scale))
        picture = image.resize(size, Image.Resampling.LANCZOS)


def run_readme_figures(args) -> int:
    """The ``readme-figures`` subcommand: every registered method's demo (`anomaly_lib.method`) into
    a temporary folder, their figures copied to ``--out``, with the methods' own drawings (SAGAN:
    the generator diagram at the authors' size)."""
    from . import method as methods

    out = check_writable(args.out)  # before minutes of demos
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        drawn = []
        for name in methods.names():
            method = methods.get(name)
            save_dir = Path(scratch) / name
            flags = list(method.smoke_flags) if args.smoke else []
            print(f"--- the {name} demo ---")
            if method.main(["--mode", "demo", "--save_dir", str(save_dir), "--no-progress", *flags]) != 0:
                raise RuntimeError(f"the {name} demo failed (its error is above); no README picture was changed")
            drawn += method.draw_figures(Path(scratch)) if method.draw_figures else []
        sources = {picture: Path(scratch) / demo / demo_file
                   for picture, (demo, demo_file) in README_DEMO_FIGURES.items()}
        sources.update({path.name: path for path in drawn})
        scales = {out / picture: save_for_readme(source, out / picture, palette=picture in README_PALETTE)
                  for picture, source in sources.items()}
    print(f"\nREADME pictures in {time.perf_counter() - started:.0f} s:")
    for path, scale in scales.items():
        shrunk = f", shrunk to {scale:.0%} to stay under {README_PICTURE_BYTES // 1000} kB" if scale < 1 else ""
        print(f"  {path}  ({path.stat().st_size / 1000:.0f} kB{shrunk})")
    return 0


def run_phantoms(args) -> int:
    """The ``phantoms`` subcommand: write the dataset, read it back as the methods will, print it."""
    started = time.perf_counter()
    out_dir = make_phantom_dataset(args.out, layout=args.layout, image_size=args.image_size,
                                   counts=dict(args.count), seed=args.seed, difficulty=args.difficulty)
    seconds = time.perf_counter() - started
    splits = read_layout(out_dir, args.layout)  # read back, as the methods will
    print(f"wrote a {args.layout} phantom dataset to {out_dir} in {seconds:.1f} s")
    for split, paths in splits.items():
        print(f"  {split:<20} {len(paths):>5} images")
    return 0


def run_site(args) -> int:
    from .site import run_from_args

    return run_from_args(args)


COMMANDS = {"phantoms": run_phantoms, "colab": run_colab, "site": run_site, "prepare": run_prepare,
            "readme-figures": run_readme_figures, "compare": run_compare}


def main(argv=None) -> int:
    """Entry point; returns the exit status (``FAILURE`` on an error, shown in one line)."""
    args = build_parser().parse_args(argv)
    status = []
    failed = run_command(lambda: status.append(COMMANDS[args.command](args)), debug=args.debug, failure=FAILURE)
    return failed or status[0] or 0


if __name__ == "__main__":
    sys.exit(main())
