"""Choose where to compute (GPU or CPU) and whether the notebooks run in quick smoke-test mode."""

from __future__ import annotations

import os

import torch


def _mps_available() -> bool:
    """Apple-silicon GPU support (absent from some torch builds)."""
    return hasattr(torch.backends, "mps") and torch.backends.mps.is_available()


def pick_device(preference: str = "auto") -> torch.device:
    """The device to compute on: "auto" = cuda, else mps, else cpu; named ones are checked."""
    if preference == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")

    try:
        device = torch.device(preference)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"unknown device {preference!r}; use auto, cuda, mps or cpu") from error
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {preference!r} was asked for, but CUDA is not available here")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(
                f"device {preference!r} was asked for, "
                f"but only {torch.cuda.device_count()} CUDA device(s) exist"
            )
    elif device.type == "mps" and not _mps_available():
        raise ValueError(f"device {preference!r} was asked for, but MPS is not available here")
    elif device.type not in ("cuda", "mps", "cpu"):
        raise ValueError(f"unsupported device {preference!r}; use auto, cuda, mps or cpu")
    return device


def describe_device(device) -> str:
    """A one-line description, e.g. "cuda:0 (NVIDIA H100)" or "cpu (2 threads)"."""
    device = torch.device(device)
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    if device.type == "mps":
        return "mps (Apple GPU)"
    return f"cpu ({torch.get_num_threads()} threads)"


def smoke_mode() -> bool:
    """True when the environment variable KIT_SMOKE is 1/true/yes: notebooks shrink their sizes."""
    return os.environ.get("KIT_SMOKE", "").strip().lower() in ("1", "true", "yes")
