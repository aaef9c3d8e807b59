"""Save checkpoints safely and capture every random generator, so training can resume exactly."""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

import numpy as np
import torch


def atomic_save(obj, path) -> Path:
    """``torch.save`` that never leaves a half-written file at ``path``.

    The object is written to a temporary file in the same folder, flushed to
    disk, then renamed onto ``path`` in one step (``os.replace``). A crash
    leaves either the old file or the new one, never a mix.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    file_descriptor, temp_name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(file_descriptor, "wb") as temp_file:
            torch.save(obj, temp_file)
            temp_file.flush()
            os.fsync(temp_file.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return path


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
