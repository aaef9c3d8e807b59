"""What ``--mode predict`` shares between the methods: its flags, its inputs and what it writes.

``python -m sagan_lib|swssl_lib --mode predict --checkpoint CKPT --input PATH... --save_dir OUT``
scores every image it finds and writes to ``OUT``:

* ``predictions.csv``: one row per file, ``file, score, decision, overlay``. ``decision`` is
  ``abnormal`` when ``score >= threshold``, else ``normal``; without a threshold the column is
  left out (scores only).
* ``overlays/NAME.png``: the image as the model saw it (resized), with its heatmap blended in.
  All overlays share **one** colour scale (``anomaly_lib.heatmaps.HeatScale``), so a normal
  image does not look as hot as a lesion: anchored at the threshold (SWSSL: 0 blue, the
  threshold green, twice it red), or from 0 to the largest value of this run with the
  threshold marked (SAGAN), or without a threshold from 0 to the largest value. Pixels no window covered (SWSSL) show the plain image.
* ``overview.png``: the most and least abnormal images in one panel, with the colour bar.
* ``summary.json``: the threshold and where it came from, counts above and below, the
  colour scale, and the settings; the same is printed.

``--input`` takes files and folders; folders are searched recursively for the formats
``anomaly_lib.images`` reads (by extension, plus DICOM files under any name). The
folder ``OUT`` itself is skipped. A file that cannot be read stops the run with one error
listing every such file.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import cv2
import numpy as np
from tqdm.auto import tqdm

from .calibration import write_json
from .heatmaps import HeatScale, overlay_heatmap
from .images import is_image_file
from .layouts import IMAGE_EXTENSIONS
from .runs import RunFolderError

PREDICT_FLAGS = ("input", "specificity", "threshold_from", "cutoff", "threshold")
# The files a prediction writes to --save_dir; --overwrite deletes them first.
PREDICT_FILES = ("predictions.csv", "summary.json", "overview.png", "overlays/*.png")
OVERVIEW_HIGHEST, OVERVIEW_LOWEST = 4, 2  # rows of overview.png


def add_predict_flags(parser) -> None:
    """The flags of ``--mode predict`` (``--checkpoint``, ``--save_dir`` and ``--overwrite`` exist already)."""
    group = parser.add_argument_group("predict (--mode predict --checkpoint CKPT --input PATH... --save_dir OUT)")
    group.add_argument("--input", nargs="+", metavar="PATH",
                       help="image files and/or folders (searched recursively) to score")
    group.add_argument("--specificity", type=float, metavar="S",
                       help="threshold at the S-quantile of the held-out normal scores that training stored "
                            "beside the checkpoint (calibration.json), e.g. 0.95; no labels needed")
    group.add_argument("--threshold_from", metavar="REPORT.json",
                       help="take the threshold from a --mode test JSON report (needs --cutoff)")
    group.add_argument("--cutoff", choices=["authors", "youden"],
                       help="which cutoff of --threshold_from: authors (sensitivity = specificity) or youden")
    group.add_argument("--threshold", type=float, metavar="X", help="a threshold of your own")


def check_predict_flags(args) -> None:
    """Refuse predict flags outside ``--mode predict`` and contradictory or missing ones inside it."""
    given = [name for name in PREDICT_FLAGS if getattr(args, name, None) is not None]
    if args.mode != "predict":
        if given:
            raise ValueError(f"--{given[0]} is for --mode predict, not --mode {args.mode}")
        return
    for name, example in (("checkpoint", "the trained model, e.g. RUN/last.ckpt"),
                          ("input", "image files or folders"), ("save_dir", "where the predictions go")):
        if not getattr(args, name, None):
            raise ValueError(f"--mode predict needs --{name} ({example})")
    if not Path(args.checkpoint).is_file():
        raise FileNotFoundError(f"--checkpoint {args.checkpoint} is not a file")
    sources = [name for name in ("specificity", "threshold_from", "threshold") if getattr(args, name) is not None]
    if len(sources) > 1:
        raise ValueError(f"give one threshold source, not {' and '.join('--' + s for s in sources)}")
    if (args.threshold_from is None) != (args.cutoff is None):
        raise ValueError("--threshold_from REPORT.json and --cutoff authors|youden go together")
    if args.specificity is not None and not 0 < args.specificity < 1:
        raise ValueError(f"--specificity must be between 0 and 1 (e.g. 0.95), got {args.specificity}")
    if args.threshold is not None and not np.isfinite(args.threshold):
        raise ValueError(f"--threshold must be a finite number, got {args.threshold}")


def collect_inputs(inputs, skip=None) -> list[Path]:
    """The image files named by ``--input`` (files as given, folders searched recursively), each once.

    ``skip``: a folder whose contents are never taken (the output folder).
    """
    skip = Path(skip).resolve() if skip is not None else None
    files, missing = [], []
    for given in inputs:
        path = Path(given)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if is_image_file(p)
                           and (skip is None or skip not in p.resolve().parents))
            if not found:
                raise ValueError(f"--input {path}: no image files in this folder or below (looked for "
                                 f"{', '.join(IMAGE_EXTENSIONS)} and DICOM files under any name)")
            files += found
        elif path.exists():
            files.append(path)
        else:
            missing.append(str(path))
    if missing:
        raise FileNotFoundError(f"--input: no such file or folder: {', '.join(missing)}")
    seen, unique = set(), []
    for path in files:
        if path.resolve() not in seen:
            seen.add(path.resolve())
            unique.append(path)
    return unique


def refuse_old_predictions(save_dir, overwrite: bool) -> None:
    """Predictions already in ``save_dir`` are kept unless ``--overwrite`` (then they are deleted
    by ``claim_run_folder``)."""
    existing = Path(save_dir) / PREDICT_FILES[0]
    if existing.is_file() and not overwrite:
        raise RunFolderError(f"{save_dir} already holds predictions ({existing.name}): add --overwrite to replace "
                             "them, or choose another --save_dir")


def overlay_names(files) -> list[str]:
    """A PNG name per input file: its stem, made unique with the row number where stems repeat."""
    names, taken = [], set()
    for row, path in enumerate(files):
        name = f"{Path(path).stem}.png"
        if name in taken:
            name = f"{Path(path).stem}_{row}.png"
        taken.add(name)
        names.append(name)
    return names


def write_predictions(save_dir, files, scores, images, pixel_map, threshold, scale: HeatScale,
                      scale_label: str, info: dict, started: float, progress: bool = True, log=print) -> dict:
    """Write the CSV, the overlays, the overview and the summary (see the module docstring).

    ``images``: uint8 (N, H, W) as the model saw them; ``pixel_map(i)``: image i's map (H, W),
    NaN where it has no value; ``threshold``: a ``Threshold`` or None; ``info``: what the summary
    should also say (method, checkpoint, settings).
    """
    from .figures import heatmap_panel

    save_dir = Path(save_dir)
    (save_dir / "overlays").mkdir(parents=True, exist_ok=True)
    scores = np.asarray(scores, dtype=np.float64)
    abnormal = scores >= threshold.value if threshold is not None else None
    names = overlay_names(files)
    for i in tqdm(range(len(files)), desc="overlays", disable=not progress):
        overlay = overlay_heatmap(images[i], pixel_map(i), scale=scale)  # (H, W, 3) RGB
        cv2.imwrite(str(save_dir / "overlays" / names[i]), cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))

    with open(save_dir / "predictions.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["file", "score"] + (["decision"] if threshold else []) + ["overlay"])
        for i, path in enumerate(files):
            decision = ["abnormal" if abnormal[i] else "normal"] if threshold else []
            writer.writerow([str(path), f"{scores[i]:.9g}", *decision, f"overlays/{names[i]}"])

    order = np.argsort(-scores, kind="stable")
    rows = list(order) if len(order) <= OVERVIEW_HIGHEST + OVERVIEW_LOWEST else \
        list(order[:OVERVIEW_HIGHEST]) + list(order[-OVERVIEW_LOWEST:])
    titles = [f"{Path(files[i]).name[:28]}\nscore {scores[i]:.4g}"
              + (f" · {'abnormal' if abnormal[i] else 'normal'}" if threshold else "") for i in rows]
    heatmap_panel(images[rows], np.stack([pixel_map(i) for i in rows]), titles=titles,
                  path=save_dir / "overview.png", scale=scale, scale_label=scale_label)

    summary = {
        **info,
        "n_images": len(files),
        "threshold": threshold.as_dict() if threshold else None,
        "counts": ({"abnormal (score >= threshold)": int(abnormal.sum()), "normal (below)": int((~abnormal).sum())}
                   if threshold else None),
        "scores": {"min": float(scores.min()), "median": float(np.median(scores)), "max": float(scores.max())},
        "heatmap_scale": {"low": scale.low, "high": scale.high, "anchor": scale.anchor,
                          "meaning": scale.describe(), "map": scale_label},
        "outputs": {"csv": str(save_dir / "predictions.csv"), "overlays": str(save_dir / "overlays"),
                    "overview": str(save_dir / "overview.png"), "summary": str(save_dir / "summary.json")},
        "seconds": round(time.time() - started, 1),
    }
    if threshold is None:
        summary["note"] = ("no threshold given (--specificity, --threshold_from with --cutoff, or --threshold): "
                           "scores only, no decisions")
    write_json(save_dir / "summary.json", summary)
    for line in summary_lines(summary):
        log(line)
    return summary


def summary_lines(summary: dict) -> list[str]:
    """The printed form of ``summary.json``."""
    scores = summary["scores"]
    lines = [f"predicted {summary['n_images']} images with {summary['checkpoint']} in {summary['seconds']} s",
             f"scores: min {scores['min']:.4g}, median {scores['median']:.4g}, max {scores['max']:.4g}"]
    if summary["threshold"] is None:
        lines.append(summary["note"])
    else:
        threshold = summary["threshold"]
        lines.append(f"threshold {threshold['value']:.4g}, from {threshold['source']}")
        if threshold.get("heldout_specificity") is not None:
            lines.append(f"  specificity on the held-out normals themselves: {threshold['heldout_specificity']:.3f}")
        above, below = summary["counts"].values()
        lines.append(f"abnormal (score >= threshold): {above}; normal: {below}")
    lines.append(f"heatmaps: {summary['heatmap_scale']['meaning']}")
    outputs = summary["outputs"]
    lines.append(f"wrote {outputs['csv']}, {outputs['overlays']}/ ({summary['n_images']} PNGs), "
                 f"{outputs['overview']}, {outputs['summary']}")
    return lines


def read_predictions(path) -> list[dict]:
    """``predictions.csv`` back as a list of dicts (scores as floats); for tests and notebooks."""
    with open(path, newline="") as file:
        rows = list(csv.DictReader(file))
    for row in rows:
        row["score"] = float(row["score"])
    return rows


def read_summary(save_dir) -> dict:
    return json.loads((Path(save_dir) / "summary.json").read_text())
