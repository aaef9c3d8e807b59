"""Check a dataset's splits before training: files listed twice, and test images also used for training.

Two entries are the same image when they are the same file (after resolving links and ``..``)
or when the two files hold identical bytes (a copy under another name or in another folder).
Identical bytes are found cheaply: only files of equal size are compared, first by a hash of
their first 64 KiB, then by a hash of the whole file, so a dataset without copies is read
only as far as its file sizes.

* the same image twice within a split, or in two training splits, or in two test splits:
  a warning (it weighs twice; in test_normal and test_abnormal it has two labels);
* the same image in a training split and a test split: an error, because the model has
  then seen a test image and the test numbers are inflated. ``allow_overlap=True`` turns it
  into a warning, for a deliberate experiment.

Splits are named as ``anomaly_lib.layouts`` names them; those starting with ``test_`` are test
splits, the others training splits.
"""

from __future__ import annotations

import hashlib
import stat
import warnings
from collections import defaultdict
from pathlib import Path

PREFIX_BYTES = 64 * 1024


class SplitOverlapError(ValueError):
    """The same image is used for training and for testing."""


def _digest(path: Path, limit: int | None = None) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as file:
        if limit is not None:
            sha.update(file.read(limit))
        else:
            for block in iter(lambda: file.read(1 << 20), b""):
                sha.update(block)
    return sha.hexdigest()


def same_images(paths) -> list[list[Path]]:
    """Groups (≥ 2 entries) of ``paths`` that are one image: the same file or identical bytes.

    Missing or unreadable files, and anything that is not a regular file, are skipped here;
    loading the images reports them.
    """
    by_file = defaultdict(list)
    for path in paths:
        by_file[Path(path).resolve()].append(Path(path))
    by_size = defaultdict(list)
    for resolved in by_file:
        try:
            status = resolved.stat()
        except OSError:
            continue
        if stat.S_ISREG(status.st_mode):  # a FIFO or device is never read here (it could wait forever)
            by_size[status.st_size].append(resolved)
    by_content = defaultdict(list)  # (size, hash) → resolved files
    for size, files in by_size.items():
        if len(files) < 2:
            continue
        by_prefix = defaultdict(list)
        for resolved in files:
            try:
                by_prefix[_digest(resolved, PREFIX_BYTES)].append(resolved)
            except OSError:
                continue
        for candidates in by_prefix.values():
            for resolved in candidates if len(candidates) > 1 else []:
                by_content[size, _digest(resolved)].append(resolved)
    merged = {resolved: resolved for resolved in by_file}  # file → one file standing for its content
    for files in by_content.values():
        for resolved in files:
            merged[resolved] = files[0]
    groups = defaultdict(list)
    for resolved, entries in by_file.items():
        groups[merged[resolved]] += entries
    return [entries for entries in groups.values() if len(entries) > 1]


def check_splits(splits: dict, allow_overlap: bool = False) -> list[str]:
    """Warn about repeated images and refuse images shared by a training and a test split.

    ``splits`` maps split names to image paths. Returns the warnings it issued; raises
    ``SplitOverlapError`` for a train/test overlap unless ``allow_overlap``.
    """
    where = {}  # path → every split it is listed in
    for split, paths in splits.items():
        for path in paths:
            where.setdefault(Path(path), []).append(split)
    messages, overlaps = [], []
    for group in same_images([path for paths in splits.values() for path in paths]):
        group = list(dict.fromkeys(group))  # each path once, in order
        listed = [(split, path) for path in group for split in where[path]]
        names = sorted({split for split, _ in listed})
        files = ", ".join(f"{path.name} ({split})" for split, path in listed[:4])
        more = f" and {len(listed) - 4} more" if len(listed) > 4 else ""
        if any(n.startswith("test_") for n in names) and not all(n.startswith("test_") for n in names):
            overlaps.append(f"{files}{more}")
        else:
            what = ("one image is listed" if len(group) == 1 else  # one file, or copies of one image
                    f"{len(group)} files hold the same pixels, listed")
            messages.append(f"{what} {len(listed)} times: {files}{more}")
    if overlaps:
        text = (f"{len(overlaps)} image(s) are in a training split and a test split, so the model has seen "
                f"test images: {'; '.join(overlaps[:3])}{' …' if len(overlaps) > 3 else ''}")
        if not allow_overlap:
            raise SplitOverlapError(text + ". Fix the lists, or pass --allow_overlap (allow_overlap=True) "
                                           "to run anyway.")
        messages.append(text + " (allowed by --allow_overlap)")
    for message in messages:
        warnings.warn(message, stacklevel=2)
    return messages
