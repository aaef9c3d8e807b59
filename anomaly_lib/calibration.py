"""Held-out normal images and their scores: what a threshold without test labels is made from.

A model scores the normal images it was trained on optimistically low, so a threshold read off
them would call too many new normal images abnormal. Training therefore keeps a share of its
normal images out (``heldout_count``), scores them with the trained model, and stores the
scores in the run folder. ``python -m sagan_lib|swssl_lib --mode predict --specificity 0.95``
then puts the threshold at the 0.95 quantile of those scores (``anomaly_lib.thresholds``).

* ``--holdout split`` (the default): the **last** ``--val_holdout`` normal training images are
  held out (0 means 10 %, at least 8). For SAGAN these are the last labeled normals of
  ``data.json``, the same images its ``--select_on synthetic-val`` uses; for SWSSL the last
  training images in file-name order. Neither method trains on them, and SWSSL leaves them
  out of its feature bank.
* ``--holdout reference``: train on every normal image, as the authors do. Nothing is held
  out, so ``--specificity`` is unavailable (give ``--threshold`` or ``--threshold_from``).

The run folder's ``calibration.json`` (written atomically) records::

    {"method": "sagan" | "swssl",
     "settings": {how inputs are resized and normalised, and the model's size},
     "heldout_files": [the held-out images],
     "heldout_scores": [{"checkpoint": "last.ckpt", "weights": FINGERPRINT,
                         "scores": {scoring: [one score per held-out file]}, ...}, ...],
     "dataset": the folder the listed files were read from,
     ... (SWSSL adds "train_files", the images of its feature bank, and "bank")}

The listed files are paths read from a file, so they must stay inside the ``dataset`` folder
recorded beside them (``anomaly_lib.files``); ``read_calibration`` refuses one that leaves it,
or that is a link out of it without ``--follow_symlinks``, in one line naming the entry. A
trainer may record ``dataset`` itself; otherwise ``update_calibration`` records the folder
that holds every listed file (also assumed for files written before it was recorded).

Scores belong to one set of weights, named by ``weights_fingerprint``; prediction uses them
only for a checkpoint with the same fingerprint, and scores the held-out files anew otherwise.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch

from .checkpoints import atomic_write
from .files import Folder, OutsideFolderError, regular_file

HOLDOUT_CHOICES = ("split", "reference")
CALIBRATION_FILE = "calibration.json"
LISTED_FILES = ("heldout_files", "train_files")  # the lists of image paths it may hold
DEFAULT_SHARE, DEFAULT_AT_LEAST = 10, 8  # 0 held-out images asked for: 10 %, at least 8


def heldout_count(n_normals: int, holdout: str = "split", requested: int = 0) -> int:
    """How many of ``n_normals`` normal training images to hold out (see the module docstring)."""
    if holdout not in HOLDOUT_CHOICES:
        raise ValueError(f"--holdout must be one of {HOLDOUT_CHOICES}, got {holdout!r}")
    if holdout == "reference":
        return 0
    count = requested or max(DEFAULT_AT_LEAST, n_normals // DEFAULT_SHARE)
    if n_normals - count < 2:
        raise ValueError(
            f"holding out {count} of {n_normals} normal training images leaves fewer than 2 to train on: "
            "give fewer with --val_holdout N, or --holdout reference to train on all of them (as the authors; "
            "then --mode predict cannot use --specificity)"
        )
    return count


def weights_fingerprint(state_dict: dict) -> str:
    """A SHA-256 of every tensor in a state dict (names, dtypes, shapes and values), in hex.

    Equal weights give equal fingerprints, whichever file or device they were loaded from.
    """
    digest = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}|{tensor.dtype}|{tuple(state_dict[name].shape)}|".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def write_json(path, payload: dict) -> Path:
    """Write JSON through a temporary file and a rename, so a reader never sees half a file."""
    return atomic_write(path, lambda file: json.dump(payload, file, indent=2), mode="w")


def read_calibration(folder, method: str | None = None) -> dict | None:
    """``FOLDER/calibration.json`` as a dict, or None when the folder has none; given a ``method``
    ("sagan", "swssl"), a file of another method's run is refused."""
    path = regular_file(Path(folder) / CALIBRATION_FILE, "calibration file")
    if not path.is_file():
        return None
    try:
        calibration = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"{path} cannot be read as JSON ({error}); delete it and train again") from None
    if not isinstance(calibration, dict) or "settings" not in calibration:
        raise ValueError(f"{path} is not a calibration file of the kit (no 'settings')")
    if method is not None and calibration.get("method") != method:
        raise ValueError(f"{path} belongs to a {calibration.get('method')} run, not {method.upper()}")
    check_listed_files(calibration, path)
    calibration["path"] = str(path)
    return calibration


def listed_files(calibration: dict) -> list[str]:
    """Every image path the calibration lists (held-out and, for SWSSL, training images)."""
    lists = [calibration.get(key) or [] for key in LISTED_FILES]
    return [str(file) for files in lists if isinstance(files, list) for file in files]


def dataset_folder(files) -> str | None:
    """The folder holding every file of ``files`` (absolute paths), or None for none."""
    return os.path.commonpath([os.path.dirname(file) for file in files]) if files else None


def check_listed_files(calibration: dict, path) -> None:
    """Refuse listed files that leave the recorded ``dataset`` folder (see the module docstring)."""
    for key in LISTED_FILES:
        if not isinstance(calibration.get(key) or [], list):
            raise ValueError(f"{path}: {key} is not a list of files; delete it and train again")
    files = listed_files(calibration)
    if not files:
        return
    if not all(os.path.isabs(file) for file in files):
        raise OutsideFolderError(f"{path}: the listed files must be absolute paths, as training writes them; "
                                 f"found {next(f for f in files if not os.path.isabs(f))!r}")
    dataset = calibration.get("dataset") or dataset_folder(files)
    if not isinstance(dataset, str) or not os.path.isabs(dataset):
        raise ValueError(f"{path}: 'dataset' must be the absolute path of a folder, got {dataset!r}")
    folder = Folder(dataset)
    for key in LISTED_FILES:
        for entry in calibration.get(key) or []:
            relative = os.path.relpath(entry, dataset)
            try:
                folder.entry(relative, path)
            except OutsideFolderError as error:  # "… entry '../x' leads out of DATASET; …" → the entry as listed
                why = str(error).split(f"entry {relative!r} ", 1)[-1]
                raise OutsideFolderError(f"{path} ({key}): entry {entry!r} {why} (the dataset folder recorded "
                                         "with it)") from None


def update_calibration(folder, entry: dict | None = None, **fields) -> Path:
    """Set top-level ``fields`` of ``FOLDER/calibration.json`` and add one held-out ``entry``.

    An entry replaces the one stored for the same checkpoint name. When ``method``, ``settings``
    or ``heldout_files`` change (another run in this folder), the old entries are dropped.
    """
    path = Path(folder) / CALIBRATION_FILE
    old = read_calibration(folder) or {}
    old.pop("path", None)
    same_run = all(old.get(key) == fields[key] for key in ("method", "settings", "heldout_files") if key in fields)
    entries = old.get("heldout_scores", []) if same_run else []
    calibration = {**(old if same_run else {}), **fields}
    if "dataset" not in fields and any(key in fields for key in LISTED_FILES):
        calibration["dataset"] = dataset_folder(listed_files(calibration))
    if entry is not None:
        entries = [kept for kept in entries if kept.get("checkpoint") != entry["checkpoint"]] + [entry]
    calibration["heldout_scores"] = entries
    return write_json(path, calibration)


def stored_heldout_scores(calibration: dict, weights: str, scoring: str, **must_match) -> list | None:
    """The stored held-out scores of ``scoring`` for the weights with fingerprint ``weights``.

    ``must_match`` are further entry fields that must be equal (e.g. SWSSL's ``k``).
    None when no entry fits.
    """
    for entry in calibration.get("heldout_scores", []):
        if entry.get("weights") == weights and all(entry.get(k) == v for k, v in must_match.items()):
            scores = entry.get("scores", {}).get(scoring)
            if scores is not None:
                return scores
    return None


def describe_entries(calibration: dict) -> str:
    """'last.ckpt (iteration 400), best-G.ckpt (iteration 300)': which checkpoints have stored scores."""
    names = []
    for entry in calibration.get("heldout_scores", []):
        when = next((f"{key} {entry[key]}" for key in ("iteration", "epoch") if entry.get(key) is not None), None)
        names.append(f"{entry.get('checkpoint')}" + (f" ({when})" if when else ""))
    return ", ".join(names) or "none"
