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

Predictions are written whole or not at all. They go first to a temporary folder inside
``OUT`` (``.predictions-new-*``) and are swapped in only when every file is written; the old
``summary.json`` leaves first and the new one arrives last, so **predictions are complete when
``summary.json`` is there**. A run killed half-way (or stopped by a full disk) leaves no
``summary.json``; the next run replaces what it left without ``--overwrite``. ``--overwrite``
deletes nothing until the new predictions are complete: a bad input or checkpoint leaves the
old ones as they were. Only the kit's own files are replaced: an ``overlays`` that is a link,
or that holds other files than PNGs, is refused. Scores that are not finite (a model with NaN
weights) stop the run with the checkpoint named, and every image write is checked.

``--input`` takes files and folders; folders are searched recursively for the formats
``anomaly_lib.images`` reads (by extension, plus DICOM files under any name). The
folder ``OUT`` itself is skipped. A file that cannot be read stops the run with one error
listing every such file.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from tqdm.auto import tqdm

from .calibration import write_json
from .files import regular_file, writing
from .heatmaps import HeatScale, overlay_heatmap
from .images import is_image_file
from .layouts import IMAGE_EXTENSIONS
from .runs import RunFolderError

PREDICT_FLAGS = ("input", "specificity", "threshold_from", "cutoff", "threshold")
# What a prediction writes to --save_dir, in the order the swap moves them in: summary.json last.
OUTPUTS = ("overlays", "overview.png", "predictions.csv", "summary.json")
# The patterns predict hands to ``claim_run_folder``: none, so the claim only locks --save_dir and
# deletes nothing; the old predictions are replaced by ``write_predictions``' swap.
PREDICT_FILES = ()
TEMPORARY = ".predictions-"  # prefix of the temporary folders inside --save_dir (new, old)
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


def predictions_complete(save_dir) -> bool:
    """Whether ``save_dir`` holds finished predictions: their ``summary.json`` arrives last."""
    return all((Path(save_dir) / name).is_file() for name in ("predictions.csv", "summary.json"))


def check_own_outputs(save_dir) -> None:
    """Refuse a ``save_dir`` whose prediction names are held by something the kit did not write
    (a link, a folder where a file belongs, other files among the overlays): the swap would
    replace it."""
    save_dir = Path(save_dir)
    for name in OUTPUTS:
        path = save_dir / name
        if path.is_symlink():
            raise ValueError(f"{path} is a link to {os.path.realpath(path)}; predict writes its own {name} "
                             "there and follows no links: remove the link or choose another --save_dir")
        if path.exists() and path.is_dir() != (name == "overlays"):
            raise ValueError(f"{path} is not the {'folder' if name == 'overlays' else 'file'} predict writes; "
                             "move it away or choose another --save_dir")
    overlays = save_dir / "overlays"
    if overlays.is_dir():
        others = [path.name for path in overlays.iterdir()
                  if path.suffix != ".png" or path.is_symlink() or not path.is_file()]
        if others:
            raise ValueError(f"{overlays} holds files predict did not write ({', '.join(sorted(others)[:3])}); "
                             "predict replaces the whole folder: move them away or choose another --save_dir")


def refuse_old_predictions(save_dir, overwrite: bool) -> None:
    """Finished predictions in ``save_dir`` are kept unless ``--overwrite``; unfinished ones (no
    ``summary.json``: a killed run) are replaced. Also refuses outputs the kit did not write
    (``check_own_outputs``). Called before any work, so nothing is lost on a refusal."""
    save_dir = Path(save_dir)
    check_own_outputs(save_dir)
    if predictions_complete(save_dir) and not overwrite:
        raise RunFolderError(f"{save_dir} already holds predictions ({OUTPUTS[2]}): add --overwrite to replace "
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


def check_finite_scores(scores, checkpoint) -> np.ndarray:
    """``scores`` as float64; scores that are NaN or infinite stop predict, naming the model."""
    scores = np.asarray(scores, dtype=np.float64)
    bad = int((~np.isfinite(scores)).sum())
    if bad:
        raise ValueError(f"{bad} of {scores.size} scores are not finite (NaN or infinite) with the checkpoint "
                         f"{checkpoint}: its weights are probably broken (a run that diverged); nothing was written")
    return scores


def write_image(path: Path, image_bgr: np.ndarray) -> None:
    """``cv2.imwrite``, whose False (an unwritable folder, a full disk) becomes one line naming the file."""
    with writing(path):
        written = cv2.imwrite(str(path), image_bgr)
    if not written:
        raise OSError(f"could not write {path} (OpenCV's imwrite failed: is the disk full or the folder "
                      "read-only?)")


def write_predictions(save_dir, files, scores, images, pixel_map, threshold, scale: HeatScale,
                      scale_label: str, info: dict, started: float, progress: bool = True, log=print) -> dict:
    """Write the CSV, the overlays, the overview and the summary (see the module docstring), whole:
    into a temporary folder inside ``save_dir``, swapped in when complete.

    ``images``: uint8 (N, H, W) as the model saw them; ``pixel_map(i)``: image i's map (H, W),
    NaN where it has no value; ``threshold``: a ``Threshold`` or None; ``info``: what the summary
    should also say (method, checkpoint, settings).
    """
    save_dir = Path(save_dir)
    scores = check_finite_scores(scores, info.get("checkpoint"))
    save_dir.mkdir(parents=True, exist_ok=True)
    check_own_outputs(save_dir)
    remove_unfinished(save_dir, log)
    work = Path(tempfile.mkdtemp(dir=save_dir, prefix=TEMPORARY + "new-"))
    try:
        summary = _write_all(work, save_dir, files, scores, images, pixel_map, threshold, scale, scale_label,
                             info, started, progress)
        _swap_in(work, save_dir, log)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for line in summary_lines(summary):
        log(line)
    return summary


def _write_all(work: Path, save_dir: Path, files, scores, images, pixel_map, threshold, scale, scale_label,
               info, started, progress) -> dict:
    """Every output into ``work``; the summary names where they will be (``save_dir``)."""
    from .figures import heatmap_panel

    (work / "overlays").mkdir()
    abnormal = scores >= threshold.value if threshold is not None else None
    names = overlay_names(files)
    for i in tqdm(range(len(files)), desc="overlays", disable=not progress):
        overlay = overlay_heatmap(images[i], pixel_map(i), scale=scale)  # (H, W, 3) RGB
        write_image(work / "overlays" / names[i], cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))

    with writing(work / "predictions.csv"), open(work / "predictions.csv", "w", newline="") as file:
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
    with writing(work / "overview.png"):
        heatmap_panel(images[rows], np.stack([pixel_map(i) for i in rows]), titles=titles,
                      path=work / "overview.png", scale=scale, scale_label=scale_label)

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
    write_json(work / "summary.json", summary)
    return summary


def _swap_in(work: Path, save_dir: Path, log) -> None:
    """Move the complete outputs in ``work`` into ``save_dir``. The old ``summary.json`` goes
    first and the new one comes last, so ``save_dir`` counts as complete only when all is in;
    if a move fails, the old outputs are put back. Links were refused (``check_own_outputs``),
    so deleting the old outputs never reaches outside ``save_dir``."""
    old = Path(tempfile.mkdtemp(dir=save_dir, prefix=TEMPORARY + "old-"))
    replaced = [name for name in reversed(OUTPUTS) if os.path.lexists(save_dir / name)]  # summary.json first
    moved_in = []
    try:
        for name in replaced:
            os.rename(save_dir / name, old / name)
        for name in OUTPUTS:  # summary.json last
            os.rename(work / name, save_dir / name)
            moved_in.append(name)
    except BaseException:
        for name in moved_in:
            os.rename(save_dir / name, work / name)
        for name in replaced:
            if os.path.lexists(old / name):
                os.rename(old / name, save_dir / name)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)
    if replaced:
        log(f"replaced the earlier predictions in {save_dir}")


def remove_unfinished(save_dir, log=print) -> list[Path]:
    """Delete the temporary folders (``.predictions-*``) a killed predict left in ``save_dir``, and
    say when its outputs are unfinished (no ``summary.json``: the swap replaces them). Called
    while holding the lock of ``save_dir`` (``claim_run_folder``), so no other run writes there."""
    save_dir = Path(save_dir)
    removed = [path for path in save_dir.glob(TEMPORARY + "*") if path.is_dir() and not path.is_symlink()]
    for path in removed:
        shutil.rmtree(path)
    if not predictions_complete(save_dir) and any(os.path.lexists(save_dir / name) for name in OUTPUTS):
        log(f"replacing the unfinished predictions of an interrupted run in {save_dir} (no summary.json)")
    return removed


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
    return json.loads(regular_file(Path(save_dir) / "summary.json", "summary").read_text())
