"""Load image files into one uint8 array of grey images, in parallel, with a progress bar."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

RESAMPLE_FILTERS = {
    "bilinear": Image.Resampling.BILINEAR,
    "lanczos": Image.Resampling.LANCZOS,
}


class ImageLoadError(OSError):
    """Some image files were missing or unreadable; ``bad_paths`` lists all of them."""

    def __init__(self, bad_paths: list[Path], n_total: int, reasons: list[str]):
        self.bad_paths, self.n_total, self.reasons = bad_paths, n_total, reasons
        shown = "\n".join(f"  {path}: {reason}" for path, reason in zip(bad_paths[:5], reasons))
        more = f"\n  ... and {len(bad_paths) - 5} more" if len(bad_paths) > 5 else ""
        super().__init__(f"{len(bad_paths)} of {n_total} images could not be read:\n{shown}{more}")

    def __reduce__(self):
        # rebuild from our own arguments, so the error can cross process boundaries (pickle)
        return type(self), (self.bad_paths, self.n_total, self.reasons)


def as_height_width(size) -> tuple[int, int]:
    """``64`` -> (64, 64); ``(256, 192)`` -> (256, 192) as (height, width)."""
    if isinstance(size, (int, np.integer)):
        height = width = int(size)
    else:
        height, width = (int(side) for side in size)
    if height < 1 or width < 1:
        raise ValueError(f"image size must be positive; got {size!r}")
    return height, width


def _load_one(path: Path, width: int, height: int, resample) -> np.ndarray:
    """One file -> grey uint8 (height, width)."""
    with Image.open(path) as image:
        gray = image.convert("L")
        if gray.size != (width, height):
            gray = gray.resize((width, height), resample=resample)  # PIL sizes are (width, height)
        return np.asarray(gray, dtype=np.uint8)


def load_grayscale(
    paths,
    size,
    resample: str = "bilinear",
    workers: int | None = None,
    desc: str = "loading images",
    progress: bool = True,
) -> np.ndarray:
    """Load image files as grey, resized to ``size``: uint8 array (N, H, W).

    ``size`` is an int (square) or ``(height, width)``. If any file is missing
    or unreadable, one ``ImageLoadError`` (an ``OSError``) lists the first five
    and the total count, after all files were tried.
    """
    paths = [Path(path) for path in paths]
    if not paths:
        raise ValueError("load_grayscale got an empty list of paths")
    if resample not in RESAMPLE_FILTERS:
        raise ValueError(f"resample must be one of {list(RESAMPLE_FILTERS)}; got {resample!r}")
    height, width = as_height_width(size)
    pil_filter = RESAMPLE_FILTERS[resample]

    def load_or_error(path: Path):
        try:
            return _load_one(path, width, height, pil_filter), None
        except FileNotFoundError:
            return None, "no such file"
        except (OSError, ValueError) as error:  # truncated, or not an image at all
            return None, f"{type(error).__name__}: {error}"

    with ThreadPoolExecutor(max_workers=workers) as executor:
        results = list(
            tqdm(
                executor.map(load_or_error, paths),
                total=len(paths),
                desc=desc,
                disable=not progress,
            )
        )

    failures = [(path, reason) for path, (_, reason) in zip(paths, results) if reason is not None]
    if failures:
        bad_paths, reasons = zip(*failures)
        raise ImageLoadError(list(bad_paths), len(paths), list(reasons))
    return np.stack([image for image, _ in results])  # N x (H, W) -> (N, H, W)
