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
     ... (SWSSL adds "train_files", the images of its feature bank, and "bank")}

Scores belong to one set of weights, named by ``weights_fingerprint``; prediction uses them
only for a checkpoint with the same fingerprint, and scores the held-out files anew otherwise.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from .checkpoints import atomic_write

HOLDOUT_CHOICES = ("split", "reference")
CALIBRATION_FILE = "calibration.json"
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
    path = Path(folder) / CALIBRATION_FILE
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
    calibration["path"] = str(path)
    return calibration


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
