"""Save checkpoints safely, load them safely, and capture every random generator for exact resumes.

Every checkpoint the kit reads goes through ``load_checkpoint_file``: it loads tensors and
plain values only (``weights_only=True``, so a file cannot run code when it is opened) and
turns torch's errors into one message that names the file and what is wrong with it.
"""

from __future__ import annotations

import os
import pickle
import random
import re
import tempfile
from pathlib import Path

import numpy as np
import torch

from .files import regular_file, writing


def atomic_write(path, write, mode: str = "wb") -> Path:
    """Write a file so that ``path`` never holds half of it: ``write(file)`` fills a temporary
    file in the same folder, which is flushed to disk and then renamed onto ``path`` in one step
    (``os.replace``). A crash leaves either the old file or the new one, never a mix. A full disk
    raises ``DiskFullError`` ("no space left on device while writing PATH"); the old file stays.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    file_descriptor, temp_name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with writing(path), os.fdopen(file_descriptor, mode) as temp_file:
            write(temp_file)
            temp_file.flush()
            os.fsync(temp_file.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return path


def atomic_save(obj, path) -> Path:
    """``torch.save`` that never leaves a half-written file at ``path`` (see ``atomic_write``)."""
    return atomic_write(path, lambda file: torch.save(obj, file))


def capture_rng_state() -> dict:
    """The state of python's, numpy's and torch's (CPU and CUDA) random generators.

    Only ints, floats, lists, strings and tensors are stored, so the dict
    survives ``torch.load(..., weights_only=True)``.
    """
    python_version, python_internal, python_gauss = random.getstate()
    numpy_name, numpy_keys, numpy_pos, numpy_has_gauss, numpy_gauss = np.random.get_state()
    state = {
        "python": [python_version, list(python_internal), python_gauss],
        "numpy": [numpy_name, numpy_keys.tolist(), numpy_pos, numpy_has_gauss, numpy_gauss],
        "torch_cpu": torch.get_rng_state(),
        "torch_cuda": [],
    }
    if torch.cuda.is_available():
        state["torch_cuda"] = torch.cuda.get_rng_state_all()  # one tensor per GPU
    return state


def restore_rng_state(state: dict) -> None:
    """Put back generator states from ``capture_rng_state``."""
    python_version, python_internal, python_gauss = state["python"]
    random.setstate((python_version, tuple(python_internal), python_gauss))
    numpy_name, numpy_keys, numpy_pos, numpy_has_gauss, numpy_gauss = state["numpy"]
    np.random.set_state(
        (
            numpy_name,
            np.asarray(numpy_keys, dtype=np.uint32),
            numpy_pos,
            numpy_has_gauss,
            numpy_gauss,
        )
    )
    torch.set_rng_state(state["torch_cpu"])
    if torch.cuda.is_available():
        # restore as many GPUs as both the checkpoint and this machine have
        for device_index, cuda_state in enumerate(state["torch_cuda"][: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(cuda_state, device_index)


class CheckpointError(ValueError):
    """A file that is not a checkpoint the kit can read, or one that does not fit the model."""


def load_checkpoint_file(path, map_location="cpu", what: str = "checkpoint"):
    """``torch.load(path, weights_only=True)``, with the kit's own error for a file it cannot read.

    Raises ``FileNotFoundError`` for a missing file and ``CheckpointError`` for anything that is
    not a PyTorch checkpoint (random bytes, text, a truncated download) or that holds pickled
    Python objects (a whole model, a class instance). Such objects are never unpickled: doing so
    can run arbitrary code.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what} not found: {path}")
    if path.is_dir():
        raise CheckpointError(f"{what} {path} is a folder, not a file")
    try:
        regular_file(path, what)  # a FIFO or a device: refused, not read (reading one can wait forever)
    except ValueError as error:
        raise CheckpointError(str(error)) from None
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path} is empty (0 bytes), not a {what}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        found = re.search(r"GLOBAL ([\w.]+)", str(error))
        if found:  # a real pickle, but of Python objects, not of tensors and plain values
            raise CheckpointError(
                f"{path} holds a pickled Python object ({found.group(1)}), not just weights; the kit "
                "only reads tensors and plain values, because unpickling objects can run code. "
                "If you made the file, save model.state_dict() instead of the model."
            ) from None
        raise CheckpointError(_not_a_checkpoint(path, what)) from None
    except OSError:
        raise  # e.g. no permission to read: its own message says so
    except Exception:  # garbage makes the unpickler fail in many ways (EOFError, KeyError, IndexError, …)
        raise CheckpointError(_not_a_checkpoint(path, what)) from None


def _not_a_checkpoint(path: Path, what: str) -> str:
    return (f"{path} is not a PyTorch {what}: it could not be read as one "
            "(another kind of file, or a damaged or incomplete download)")


def non_finite_tensors(state_dict: dict) -> list[str]:
    """The keys of ``state_dict`` whose floating-point tensor holds a NaN or an infinity."""
    return [key for key, value in state_dict.items()
            if torch.is_tensor(value) and value.is_floating_point() and not torch.isfinite(value).all()]


def refuse_non_finite_weights(state_dict: dict, path, name: str = "weights") -> None:
    """``CheckpointError`` naming ``path`` when a floating-point tensor of ``state_dict`` holds a NaN or
    infinity: the run that wrote it diverged, and every score from it would be NaN."""
    broken = non_finite_tensors(state_dict)
    if broken:
        raise CheckpointError(f"{path}: its {name} hold non-finite values (NaN or infinite) in {len(broken)} "
                              f"tensor(s), e.g. {broken[0]}; the run that wrote it diverged: use an earlier checkpoint")


def state_dict_mismatch(expected: dict, found: dict, shown: int = 5) -> list[str]:
    """How ``found`` differs from a model's ``expected`` state dict: missing, unexpected and
    wrongly shaped keys, one line each (at most ``shown`` keys per line); [] when they fit."""

    def first(items):
        return ", ".join(items[:shown]) + (f" … ({len(items)} in all)" if len(items) > shown else "")

    missing = [key for key in expected if key not in found]
    unexpected = [key for key in found if key not in expected]
    wrong_shape = [
        f"{key}: file {tuple(found[key].shape)} vs model {tuple(expected[key].shape)}"
        for key in expected
        if key in found and torch.is_tensor(found[key]) and found[key].shape != expected[key].shape
    ]
    lines = []
    if missing:
        lines.append(f"  missing keys: {first(missing)}")
    if unexpected:
        lines.append(f"  unexpected keys: {first(unexpected)}")
    if wrong_shape:
        lines.append(f"  wrongly shaped keys: {first(wrong_shape)}")
    return lines


def settings_changed_on_resume(path, saved: dict, current: dict, network_fields, built: str) -> list[str]:
    """Refuse to resume from ``path`` when a setting that shapes the networks (``network_fields``)
    differs; return the other settings that differ, for the caller to report.

    ``built``: what the settings built, for the message (e.g. "its networks were").
    """
    different = config_differences(saved, current, network_fields)
    if different:
        raise CheckpointError(f"cannot resume from {path}: {built} built with other settings ("
                              + "; ".join(different) + "). Use the checkpoint's values or start a new run.")
    return config_differences(saved, current, [name for name in current if name not in network_fields])


def config_differences(saved: dict, current: dict, names) -> list[str]:
    """``"name: checkpoint A, now B"`` for each of ``names`` whose value differs between a
    checkpoint's saved settings and the current ones (tuples and lists compare alike)."""

    def plain(value):
        return list(value) if isinstance(value, (tuple, list)) else value

    return [
        f"{name}: checkpoint {saved[name]!r}, now {current[name]!r}"
        for name in names
        if name in saved and name in current and plain(saved[name]) != plain(current[name])
    ]
