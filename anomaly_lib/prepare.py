"""Bring your own data: turn image folders, a CSV, or a DBT download into the kit's layouts.

``python -m anomaly_lib prepare medad`` (SAGAN) and ``prepare dbt`` (SWSSL) call
``prepare_medad`` and ``prepare_dbt``. Both read every image through
``anomaly_lib.images`` (16-bit and DICOM data mapped to 8 bits as documented there),
write 8-bit grey PNGs, a ``manifest.csv`` that names the source of every file written,
and ``prepare.json`` with the settings. They never write into a non-empty folder that
``prepare`` did not make, and replace one it made only with ``overwrite=True``.

**Nothing lost, nothing outside.** Every input is checked before anything is written: a path
in a CSV must stay inside the CSV's folder (Med-AD) or ``--source`` (DBT), and a link leading
out of an input folder is refused unless ``follow_symlinks`` (``anomaly_lib.files.inside``).
The new result is written into a temporary folder beside ``--out`` while ``--out`` holds the
same lock as a training run (``anomaly_lib.runs``), so a second ``prepare`` into it is
refused. ``prepare.json`` says ``"complete": true`` only once every file the manifest lists
exists; then the new folder takes the old one's place (two renames: the old result to
``.OUT.replaced-*``, the new one to ``--out``). A failure at any point before that leaves the
old result whole. A run killed between the two renames is finished by the next ``prepare``
into ``--out``, and a complete result beside ``--out`` is deleted only once ``--out`` holds one.

**Med-AD** (``images/`` + ``data.json``, see ``layouts.py``). Images are split into
train normal, unlabeled normal + abnormal, and test normal + abnormal. With patient ids,
whole patients are assigned: a patient sits on the train side (train normal and
unlabeled) or on the test side, never both, and a split's count may fall a little short
of its target because no patient is split to fill it. Without ids, every image is its
own patient. The defaults (each can be replaced by a count):

* test: ``test_fraction`` (20 %) of the normal and of the abnormal images;
* train normal: the largest N for which the rest holds SAGAN's unlabeled mix at ratio
  ``ar`` (the first ``int(N·ar)`` unlabeled abnormal and ``N − int(N·ar)`` unlabeled
  normal images, ``sagan_lib.data.unlabeled_mix``);
* unlabeled: every other image (SAGAN uses the first ones of each list).

Lists are in a seeded random order of patients. Output names are ``{patient}_{serial}.png``
(``{serial}.png`` without ids). SAGAN averages the test scores of images whose names share
the part before ``__``; with ``score_per_patient`` the names become
``{patient}-{normal|abnormal}__{serial}.png``, so that a patient's test images of one
label are scored as one study.

**DBT** (TCIA's Breast-Cancer-Screening-DBT -> ``images-normal-unique/{train,val}`` and
``images-tumor-full/val``). The collection ships three spreadsheets (as CSV), recognised
by their columns: file paths (``PatientID, StudyUID, View, descriptive_path,
classic_path``), labels (``PatientID, StudyUID, View, Normal, Actionable, Benign,
Cancer``) and boxes (``PatientID, StudyUID, View, Subject, Slice, X, Y, Width, Height,
Class, AD, VolumeSlices``; ``Slice`` counts from 0, ``X, Y`` is a box's top-left corner).

* Normal views (``Normal == 1``): the authors did not publish which slices they used.
  We export the middle slice of each view (``slices_per_view=1``), or that many slices
  evenly spaced over the middle half of the volume, where the breast is best covered.
* Lesion views: the slice named in the boxes spreadsheet, with its boxes.
* Split by patient: every patient with a lesion, and a seeded ``val_fraction`` of the
  other patients, go to the test side (``val``); the rest to ``train``.
* Orientation: the boxes are given with the breast against the image edge of the view's
  side (left views: left edge). As in the collection authors' reader, a slice whose
  breast lies on the other side (brighter right edge for a left view) is flipped on both
  axes before export.
* 8 bits: the file's window (from its functional groups) as in ``anomaly_lib.images``,
  then the slice's darkest value is subtracted, so the background is exactly 0 (SWSSL's
  sampler skips all-black patches).
* ``boxes.json`` lists every lesion image with its boxes in the written image's pixels
  (x to the right and y down from the top-left corner, scaled if ``image_size`` resizes).

Views whose file is not in the download (a partial download is normal) are skipped and
counted.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import tempfile
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .files import Folder, regular_file, swap_folder, writing
from .images import (
    describe_mappings,
    frame_count,
    is_image_file,
    map_files,
    read_image,
    resize_grey,
)
from .layouts import (
    DBT_FOLDERS,
    IMAGE_EXTENSIONS,
    MEDAD_JSON_KEYS,
    unlabeled_counts,
    write_medad_json,
)
from .runs import LOCK_NAME, RunFolderError, acquire_lock, check_writable, release_lock

MARKER = "prepare.json"  # marks a folder as made by prepare, so --overwrite may replace it
MANIFEST = "manifest.csv"
LISTED_UNDER = {"prepare medad": "images", "prepare medmnist": "images", "prepare dbt": ""}  # the folder the manifest's files are in
MEDAD_SPLITS = tuple(MEDAD_JSON_KEYS)  # train_normal, unlabeled_normal, unlabeled_abnormal, test_*
LABEL_WORDS = {"0": 0, "1": 1, "normal": 0, "abnormal": 1}


def listed_under(settings: dict) -> str:
    """The folder the manifest's files are in, for a result made with ``settings``."""
    return "" if settings.get("layout") == "chest" else LISTED_UNDER[settings["command"]]


@dataclass(frozen=True)
class Source:
    """One input image: its file, label (0 normal, 1 abnormal) and patient id (None: unknown)."""

    path: Path
    label: int
    patient: str | None = None


# ---------------------------------------------------------------------------- output folder


def _write_text(path: Path, text: str) -> None:
    with writing(path):
        path.write_text(text)


@contextmanager
def _new_output(out_dir, overwrite: bool, inputs, settings: dict):
    """Yield an empty temporary folder beside ``out_dir`` for the new result; when the block
    ends without an error, that folder replaces ``out_dir``. Refuses a folder ``prepare`` did
    not make, an earlier result without ``overwrite``, and a folder another process holds."""
    out_dir = Path(out_dir).resolve()  # a link given as --out: its folder is replaced, not the link
    for folder in inputs:
        if out_dir == folder.resolve() or folder.resolve() in out_dir.parents:
            raise ValueError(f"the output folder {out_dir} lies inside the input folder {folder}")
    created = not out_dir.exists()
    lock = acquire_lock(check_writable(out_dir))  # a second prepare (or a training run) is refused
    work = work_lock = None
    try:
        if not any(path.name != LOCK_NAME for path in out_dir.iterdir()):
            _finish_interrupted_swap(out_dir)
        if any(path.name != LOCK_NAME for path in out_dir.iterdir()):
            if not (out_dir / MARKER).is_file():
                raise FileExistsError(
                    f"{out_dir} is not empty and was not made by `prepare`; choose a new or empty folder"
                )
            if not overwrite:
                raise FileExistsError(f"{out_dir} holds an earlier `prepare` output; add --overwrite to replace it")
        _remove_leftovers(out_dir)
        work = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.prepare-"))
        work_lock = acquire_lock(work)  # moves with the folder: --out stays locked after the swap
        _write_text(work / MARKER, json.dumps({**settings, "complete": False}, indent=2))
        yield work
        swap_folder(work, out_dir, work.with_name(work.name.replace(".prepare-", ".replaced-")))
        work = None
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
        for held in (work_lock, lock):
            if held is not None:
                release_lock(held)
        if created and out_dir.is_dir() and not any(out_dir.iterdir()):
            out_dir.rmdir()  # made only to hold the lock of a run that failed


def _is_complete(folder: Path) -> bool:
    """Whether ``folder`` holds a finished result: ``prepare.json`` says ``complete`` and every
    file ``manifest.csv`` lists exists."""
    try:
        settings = json.loads((folder / MARKER).read_text())
        listed = Folder(folder / listed_under(settings))
        if settings["complete"] is not True:
            return False
        with open(folder / MANIFEST, newline="") as file:
            return all(listed.entry(row["file"], folder / MANIFEST).is_file() for row in csv.DictReader(file))
    except (OSError, ValueError, KeyError, TypeError, csv.Error):
        return False


def _leftovers(out_dir: Path, kind: str) -> list[Path]:
    """The ``.OUT.prepare-*`` (new work) or ``.OUT.replaced-*`` (old result) folders beside
    ``out_dir``, newest first."""
    found = [path for path in out_dir.parent.glob(f".{out_dir.name}.{kind}-*")
             if path.is_dir() and not path.is_symlink()]
    return sorted(found, key=lambda path: path.stat().st_mtime, reverse=True)


def _finish_interrupted_swap(out_dir: Path) -> None:
    """``out_dir`` holds only this run's lock: a ``prepare`` killed between the two renames of
    its swap leaves it so, with its complete new result in ``.OUT.prepare-*`` and the old one in
    ``.OUT.replaced-*``. The newest complete one of those (new results first) whose process is
    gone takes ``out_dir``'s place, as the swap would have done."""
    for candidate in _leftovers(out_dir, "prepare") + _leftovers(out_dir, "replaced"):
        try:
            held = acquire_lock(candidate, log=lambda *_: None)  # refused while its process runs
        except RunFolderError:
            continue
        try:
            if _is_complete(candidate):
                (out_dir / LOCK_NAME).unlink()  # the candidate's lock, ours now, moves in with it
                out_dir.rmdir()
                os.rename(candidate, out_dir)
                print(f"finished the swap of an interrupted `prepare`: its complete result {candidate.name} "
                      f"is now {out_dir}")
                return
        finally:
            release_lock(held)


def _remove_leftovers(out_dir: Path) -> None:
    """Delete the temporary folders a killed ``prepare`` left beside ``out_dir``: unfinished new
    results, and old results already replaced by a complete one. A complete result is deleted
    only while ``out_dir`` holds a complete one too; a folder whose lock a running process holds
    is left alone."""
    out_complete = _is_complete(out_dir)
    for leftover in _leftovers(out_dir, "prepare") + _leftovers(out_dir, "replaced"):
        try:
            lock = acquire_lock(leftover, log=lambda *_: None)  # refused while its process runs
        except RunFolderError:
            continue
        if out_complete or not _is_complete(leftover):
            shutil.rmtree(leftover)
        release_lock(lock)


def _finish_output(folder: Path, settings: dict, manifest_rows: list[dict]) -> None:
    """Write the manifest, then mark the result complete once every file it lists exists."""
    listed = [folder / listed_under(settings) / row["file"] for row in manifest_rows]
    missing = [path for path in listed if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} of {len(listed)} listed files were not written "
                                f"(first: {missing[0]}); the result is not marked complete")
    with writing(folder / MANIFEST), open(folder / MANIFEST, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(manifest_rows[0]))
        writer.writeheader()
        writer.writerows(manifest_rows)
    _write_text(folder / MARKER, json.dumps({**settings, "complete": True}, indent=2))


def _save_png(image: np.ndarray, path: Path) -> None:
    # zlib level 1: on 256 x 256 phantoms about 5x faster to write than PIL's default 6, files ~18 % larger
    with writing(path):
        Image.fromarray(image).save(path, compress_level=1)


def safe_id(text: str) -> str:
    """A patient id made safe for file names: runs of anything but letters, digits, '.', '-' -> '-'.

    Underscores go too, so a name never holds the ``__`` that SAGAN reads as a study id.
    """
    return re.sub(r"[^A-Za-z0-9.-]+", "-", str(text)).strip("-") or "id"


# ---------------------------------------------------------------------------- Med-AD inputs


def sources_from_folders(normal_dirs, abnormal_dirs, patient_from_subfolder: bool = False,
                         follow_symlinks: bool = False) -> list[Source]:
    """Every image file under the folders (subfolders included), labelled by the folder it came from.

    With ``patient_from_subfolder``, the first subfolder under a given folder names the
    patient (``NORMAL/patient7/a.png`` -> ``patient7``). A link leading out of its folder is
    refused unless ``follow_symlinks``.
    """
    sources = []
    for label, folders in ((0, normal_dirs), (1, abnormal_dirs)):
        for folder in map(Path, folders):
            if not folder.is_dir():
                raise FileNotFoundError(f"input folder {folder} does not exist")
            found = sorted(path for path in folder.rglob("*") if is_image_file(path))
            if not found:
                raise ValueError(f"{folder} holds no image files ({', '.join(IMAGE_EXTENSIONS)} or DICOM)")
            checked = Folder(folder, follow_symlinks)
            for path in found:
                checked.entry(path.relative_to(folder), f"the input folder {folder}")
                patient = None
                if patient_from_subfolder:
                    parts = path.relative_to(folder).parts
                    if len(parts) < 2:
                        raise ValueError(f"{path} is not in a patient subfolder of {folder}")
                    patient = parts[0]
                sources.append(Source(path, label, patient))
    return sources


def sources_from_csv(csv_path, follow_symlinks: bool = False) -> list[Source]:
    """Rows of ``path,label[,patient_id]`` (a header row with those names is optional).

    Labels are 0/1 or normal/abnormal. Paths are relative to the CSV's folder and must stay
    inside it (put the CSV at the top of your images); a link leading out of it is refused
    unless ``follow_symlinks``.
    """
    csv_path = regular_file(csv_path, "the CSV")
    with open(csv_path, newline="") as file:
        rows = [(number, row) for number, row in enumerate(csv.reader(file), start=1) if any(row)]
    if not rows:
        raise ValueError(f"{csv_path} is empty")
    columns = {"path": 0, "label": 1, "patient_id": 2}
    if rows[0][1][0].strip().lower() == "path":  # a header row: columns by name
        header = [name.strip().lower() for name in rows[0][1]]
        missing = [name for name in ("path", "label") if name not in header]
        if missing:
            raise ValueError(f"{csv_path}: the header has no column {missing[0]!r} (found {header})")
        columns = {name: header.index(name) for name in columns if name in header}
        rows = rows[1:]
    folder = Folder(csv_path.parent, follow_symlinks)
    has_patients = "patient_id" in columns and any(len(row) > columns["patient_id"] for _, row in rows)
    sources = []
    for number, row in rows:
        where = f"{csv_path} line {number}"
        try:
            path, label = row[columns["path"]].strip(), row[columns["label"]].strip().lower()
        except IndexError:
            raise ValueError(f"{where}: expected path,label[,patient_id]; got {row}") from None
        if label not in LABEL_WORDS:
            raise ValueError(f"{where}: label must be 0, 1, normal or abnormal; got {label!r}")
        patient = None
        if has_patients:
            patient = row[columns["patient_id"]].strip() if len(row) > columns["patient_id"] else ""
            if not patient:
                raise ValueError(f"{where}: empty patient_id (give one for every row, or none)")
        sources.append(Source(folder.entry(path, where), LABEL_WORDS[label], patient))
    return sources


# ---------------------------------------------------------------------------- Med-AD splits


def largest_train_normal(n_normal: int, n_abnormal: int, ar: float) -> int:
    """The largest N whose SAGAN unlabeled mix fits: int(N·ar) <= abnormal, N + N − int(N·ar) <= normal."""
    best = 0
    for n in range(n_normal + 1):
        need_abnormal, need_normal = unlabeled_counts(n, ar)
        if need_abnormal <= n_abnormal and n + need_normal <= n_normal:
            best = n
    return best


def _take(patients: list, counts: dict, need_normal: int, need_abnormal: int) -> list:
    """Patients, in order, whose (normal, abnormal) counts fit what is still needed."""
    taken = []
    for patient in patients:
        if need_normal <= 0 and need_abnormal <= 0:
            break
        n_normal, n_abnormal = counts[patient]
        if (n_normal or n_abnormal) and n_normal <= need_normal and n_abnormal <= need_abnormal:
            taken.append(patient)
            need_normal, need_abnormal = need_normal - n_normal, need_abnormal - n_abnormal
    return taken


def medad_splits(sources: list[Source], counts: dict | None = None, test_fraction: float = 0.2,
                 ar: float = 0.6, seed: int = 0) -> dict[str, list[Source]]:
    """Split sources into the five Med-AD lists, by patient, in a seeded order (module docstring)."""
    counts = dict(counts or {})
    if not 0 <= test_fraction < 1 or not 0 <= ar <= 1:
        raise ValueError(f"test_fraction must lie in [0, 1) and ar in [0, 1]; got {test_fraction} and {ar}")
    unknown = sorted(set(counts) - set(MEDAD_SPLITS))
    if unknown:
        raise ValueError(f"unknown split(s) {unknown}; the splits are {list(MEDAD_SPLITS)}")
    listed = Counter(source.path.resolve() for source in sources)
    twice = [path for path, times in listed.items() if times > 1]
    if twice:
        raise ValueError(f"{twice[0]} is listed more than once; a file may sit in one split only")

    by_patient = defaultdict(list)  # patient -> its sources, sorted by path
    for index, source in enumerate(sources):
        by_patient[source.patient if source.patient is not None else f"image {index}"].append(source)
    for group in by_patient.values():
        group.sort(key=lambda source: str(source.path))
    order = sorted(by_patient)
    order = [order[i] for i in np.random.default_rng(seed).permutation(len(order))]

    def class_counts(patients, only: int | None = None) -> dict:
        """patient -> (normal images, abnormal images); with ``only``, the other class counts 0."""
        counts_of = {}
        for patient in patients:
            labels = [source.label for source in by_patient[patient]]
            counts_of[patient] = tuple(labels.count(label) if only in (None, label) else 0 for label in (0, 1))
        return counts_of

    def pick(patients, label) -> list[Source]:
        return [source for patient in patients for source in by_patient[patient] if source.label == label]

    n_normal = sum(source.label == 0 for source in sources)
    n_abnormal = len(sources) - n_normal
    for split, available in (("test_normal", n_normal), ("test_abnormal", n_abnormal)):
        if counts.get(split, 0) > available:
            raise ValueError(f"{split}={counts[split]} asked for, but only {available} such images are given")
    want_test = [counts.get(f"test_{word}", max(1, round(test_fraction * n))) for word, n in
                 (("normal", n_normal), ("abnormal", n_abnormal))]
    test = _take(order, class_counts(order), *want_test)
    in_test = set(test)
    rest = [patient for patient in order if patient not in in_test]

    rest_normal, rest_abnormal = len(pick(rest, 0)), len(pick(rest, 1))
    want_train = counts.get("train_normal", largest_train_normal(rest_normal, rest_abnormal, ar))
    if want_train > rest_normal:
        raise ValueError(f"train_normal={want_train} asked for, but {rest_normal} normal images are left "
                         "after the test split")
    train = _take(rest, class_counts(rest, only=0), want_train, 0)
    in_train = set(train)
    unlabeled_pool = [patient for patient in rest if patient not in in_train]
    unlabeled_normal = _take(unlabeled_pool, class_counts(unlabeled_pool, only=0),
                             counts.get("unlabeled_normal", len(pick(unlabeled_pool, 0))), 0)
    unlabeled_abnormal = _take(rest, class_counts(rest, only=1), 0, counts.get("unlabeled_abnormal", rest_abnormal))
    return {
        "train_normal": pick(train, 0),
        "unlabeled_normal": pick(unlabeled_normal, 0),
        "unlabeled_abnormal": pick(unlabeled_abnormal, 1),
        "test_normal": pick(test, 0),
        "test_abnormal": pick(test, 1),
    }


def sagan_check(splits: dict, ar: float) -> str | None:
    """None if SAGAN can train on the splits with ``ar``, else what is missing."""
    n = len(splits["train_normal"])
    need_abnormal, need_normal = unlabeled_counts(n, ar)
    problems = []
    if n < 2:
        problems.append(f"{n} train normal images (SAGAN needs at least 2)")
    if len(splits["unlabeled_abnormal"]) < need_abnormal or len(splits["unlabeled_normal"]) < need_normal:
        problems.append(f"its unlabeled mix at ar={ar} needs {need_abnormal} unlabeled abnormal and "
                        f"{need_normal} unlabeled normal images")
    for split in ("test_normal", "test_abnormal"):
        if not splits[split]:
            problems.append(f"no {split} images")
    return "; ".join(problems) or None


def medad_names(splits: dict, score_per_patient: bool = False) -> dict[Path, str]:
    """Source path -> output file name (see the module docstring)."""
    if score_per_patient:
        patients = {s.patient for split in splits.values() for s in split}
        if None in patients:
            raise ValueError("score_per_patient needs a patient id for every image")
        by_safe_id = defaultdict(set)
        for patient in patients:
            by_safe_id[safe_id(patient)].add(patient)
        clash = next((ids for ids in by_safe_id.values() if len(ids) > 1), None)
        if clash:
            raise ValueError(f"patient ids {sorted(clash)} give the same file name; make them differ in "
                             "letters, digits, '.' or '-'")
    names, serial = {}, 0
    for split in MEDAD_SPLITS:
        for source in splits[split]:
            serial += 1
            if source.patient is None:
                stem = f"{serial:06d}"
            elif score_per_patient:
                stem = f"{safe_id(source.patient)}-{('normal', 'abnormal')[source.label]}__{serial:06d}"
            else:
                stem = f"{safe_id(source.patient)}_{serial:06d}"
            names[source.path] = stem + ".png"
    return names


def prepare_medad(sources: list[Source], out_dir, counts: dict | None = None, test_fraction: float = 0.2,
                  ar: float = 0.6, seed: int = 0, image_size=None, score_per_patient: bool = False,
                  overwrite: bool = False, inputs=(), workers: int | None = None,
                  progress: bool = True) -> dict:
    """Write a Med-AD folder from ``sources``; returns a summary (counts, mappings, SAGAN check).

    ``image_size`` (int or (height, width)) resizes with Lanczos; None keeps each image's
    size. ``inputs`` are the input folders or CSV (the output may not lie inside them).
    Unreadable images: all are listed in one ``ImageLoadError`` and no ``data.json`` is written.
    """
    out_dir = Path(out_dir)
    splits = medad_splits(sources, counts, test_fraction, ar, seed)
    names = medad_names(splits, score_per_patient)
    settings = {"command": "prepare medad", "counts": counts or {}, "test_fraction": test_fraction,
                "ar": ar, "seed": seed, "image_size": image_size, "score_per_patient": score_per_patient}
    with _new_output(out_dir, overwrite, [Path(folder) for folder in inputs], settings) as work:
        (work / "images").mkdir()

        def convert(path: Path):
            images, mapping = read_image(path)  # (1, H, W) uint8: the middle frame of a volume
            image = images[0] if image_size is None else resize_grey(images[0], image_size, "lanczos")
            _save_png(image, work / "images" / names[path])
            return mapping

        mappings = map_files(convert, list(names), workers, "writing Med-AD images", progress)
        write_medad_json(work, {split: [names[s.path] for s in splits[split]] for split in MEDAD_SPLITS})
        manifest = [{"file": names[s.path], "split": split, "label": s.label, "patient_id": s.patient or "",
                     "source": str(s.path)} for split in MEDAD_SPLITS for s in splits[split]]
        _finish_output(work, settings, manifest)
    return {"counts": {split: len(splits[split]) for split in MEDAD_SPLITS}, "unused": len(sources) - len(names),
            "mapped": describe_mappings(mappings), "sagan": sagan_check(splits, ar)}


# ---------------------------------------------------------------------------- DBT


DBT_TABLES = {  # kind -> columns that identify it (and that the code reads)
    "boxes": ("PatientID", "StudyUID", "View", "Slice", "X", "Y", "Width", "Height"),
    "labels": ("PatientID", "StudyUID", "View", "Normal"),
    "file_paths": ("PatientID", "StudyUID", "View"),  # plus descriptive_path or classic_path
}
PATH_COLUMNS = ("descriptive_path", "classic_path")


def read_dbt_tables(csv_paths, source_dir=None, follow_symlinks: bool = False) -> dict[str, list[dict]]:
    """The collection's CSVs, recognised by their columns -> {"file_paths", "labels", "boxes"} rows.

    With ``source_dir``, every path in a file-path table must stay inside it (both ways
    ``find_volume`` reads it; links too, unless ``follow_symlinks``).
    """
    tables = {kind: [] for kind in DBT_TABLES}
    download = Folder(source_dir, follow_symlinks) if source_dir is not None else None
    for csv_path in map(Path, csv_paths):
        with open(regular_file(csv_path, "the CSV table"), newline="", encoding="utf-8-sig") as file:
            reader = csv.DictReader(file)
            columns = set(reader.fieldnames or [])
            if set(DBT_TABLES["boxes"]) <= columns:
                kind = "boxes"
            elif set(DBT_TABLES["labels"]) <= columns:
                kind = "labels"
            elif set(DBT_TABLES["file_paths"]) <= columns and columns & set(PATH_COLUMNS):
                kind = "file_paths"
            else:
                raise ValueError(f"{csv_path} is not a file-path, label or box table of the collection "
                                 f"(columns: {sorted(columns)})")
            for row in reader:
                if kind == "file_paths" and download is not None:
                    for column in PATH_COLUMNS:
                        for relative in _volume_candidates(row.get(column)):
                            download.entry(relative, f"{csv_path} line {reader.line_num} ({column})")
                tables[kind].append(row)
    for kind, rows in tables.items():
        if not rows:
            raise ValueError(f"no {kind.replace('_', ' ')} table among {[str(p) for p in csv_paths]}")
    return tables


def view_key(row: dict) -> tuple[str, str, str]:
    return row["PatientID"].strip(), row["StudyUID"].strip(), row["View"].strip().lower()


def _volume_candidates(text) -> list[str]:
    """Where a path column's value may point under the download: as written, and without its
    leading collection folder."""
    relative = (text or "").strip().replace("\\", "/")
    return [relative, relative.split("/", 1)[-1]] if relative else []


def find_volume(source_dir: Path, row: dict) -> Path | None:
    """The view's DICOM file under ``source_dir``, by either path column, with or without the
    leading collection folder; None when it is not in the download. ``read_dbt_tables`` has
    checked that these paths stay inside ``source_dir``."""
    for column in PATH_COLUMNS:
        for relative in _volume_candidates(row.get(column)):
            candidate = source_dir / relative
            if candidate.is_file():
                return candidate
    return None


def normal_slices(n_frames: int, per_view: int) -> list[int]:
    """The middle slice (n // 2), or ``per_view`` slices evenly spaced over the middle half."""
    if per_view <= 1:
        return [n_frames // 2]
    return sorted({int(i) for i in np.linspace(n_frames // 4, n_frames - 1 - n_frames // 4, per_view).round()})


def orient_like_the_boxes(image: np.ndarray, view: str) -> tuple[np.ndarray, bool]:
    """Flip both axes when the breast is not against the edge of the view's side; (image, flipped)."""
    breast_on_right = int(image[:, -1].sum(dtype=np.int64)) > int(image[:, 0].sum(dtype=np.int64))
    if breast_on_right != view.lower().startswith("r"):
        return np.ascontiguousarray(image[::-1, ::-1]), True
    return image, False


def _dbt_name(patient: str, study: str, view: str, slice_index: int) -> str:
    return f"{safe_id(patient)}_{safe_id(study)}_{safe_id(view)}_s{slice_index:03d}.png"


def prepare_dbt(source_dir, out_dir, tables=None, slices_per_view: int = 1, val_fraction: float = 0.2,
                seed: int = 0, image_size=None, overwrite: bool = False, workers: int | None = None,
                progress: bool = True, follow_symlinks: bool = False) -> dict:
    """Write the SWSSL DBT layout and ``boxes.json`` from a collection download (module docstring).

    ``tables``: the CSVs; default every ``*.csv`` directly in ``source_dir``. ``image_size``
    ((height, width) or int) resizes with Lanczos; None keeps the slices' size. Paths in the
    tables must stay inside ``source_dir`` (links too, unless ``follow_symlinks``).
    """
    source_dir, out_dir = Path(source_dir), Path(out_dir)
    if slices_per_view < 1 or not 0 <= val_fraction < 1:
        raise ValueError(f"slices_per_view must be >= 1 and val_fraction in [0, 1); got {slices_per_view} "
                         f"and {val_fraction}")
    tables = sorted(source_dir.glob("*.csv")) if tables is None else [Path(t) for t in tables]
    if not tables:
        raise FileNotFoundError(f"no CSV tables in {source_dir}; give them with --tables")
    rows = read_dbt_tables(tables, source_dir, follow_symlinks)
    paths = {view_key(row): row for row in rows["file_paths"]}

    lesions = defaultdict(list)  # (patient, study, view) -> box rows
    for row in rows["boxes"]:
        lesions[view_key(row)].append(row)
    normal_views = sorted({view_key(row) for row in rows["labels"]
                           if row["Normal"].strip().lower() in ("1", "1.0", "true") and view_key(row) not in lesions})

    # split patients: everyone with a lesion, and val_fraction of the others, on the test side
    lesion_patients = sorted({key[0] for key in lesions})
    other_patients = sorted({key[0] for key in normal_views} - set(lesion_patients))
    shuffled = [other_patients[i] for i in np.random.default_rng(seed).permutation(len(other_patients))]
    n_val = round(val_fraction * len(shuffled))
    test_side = set(lesion_patients) | set(shuffled[:n_val])

    jobs, missing = {}, []  # DICOM path -> (view key, [(folder, slice or None, boxes)])
    for key in normal_views + sorted(lesions):
        volume = find_volume(source_dir, paths[key]) if key in paths else None
        if volume is None:
            missing.append(key)
            continue
        if key in lesions:
            by_slice = defaultdict(list)
            for box in lesions[key]:
                by_slice[int(float(box["Slice"]))].append(box)
            outputs = [(DBT_FOLDERS["test_abnormal"], slice_index, boxes) for slice_index, boxes in by_slice.items()]
        else:
            folder = DBT_FOLDERS["test_normal" if key[0] in test_side else "train_normal"]
            outputs = [(folder, None, [])]
        jobs[volume] = (key, outputs)
    if not any(key in lesions for key, _ in jobs.values()):
        raise FileNotFoundError(f"none of the {len(lesions)} lesion views of the box table was found under "
                                f"{source_dir} (looked for their {' or '.join(PATH_COLUMNS)})")

    settings = {"command": "prepare dbt", "tables": [str(t) for t in tables], "slices_per_view": slices_per_view,
                "val_fraction": val_fraction, "seed": seed, "image_size": image_size}
    with _new_output(out_dir, overwrite, [], settings) as work:
        for folder in DBT_FOLDERS.values():
            (work / folder).mkdir(parents=True, exist_ok=True)

        def export(volume: Path):
            (patient, study, view), outputs = jobs[volume]
            n_frames = frame_count(volume)
            wanted = [(folder, index, boxes) for folder, slice_index, boxes in outputs
                      for index in ([slice_index] if slice_index is not None else normal_slices(n_frames, slices_per_view))]
            images, mapping = read_image(volume, sorted({index for _, index, _ in wanted}))
            by_index = dict(zip(sorted({index for _, index, _ in wanted}), images))
            written = []
            for folder, index, boxes in wanted:
                image, flipped = orient_like_the_boxes(by_index[index], view)
                image = image - image.min()  # the background, the darkest value, becomes exactly 0
                height, width = image.shape
                if image_size is not None:
                    image = resize_grey(image, image_size, "lanczos")
                scale_y, scale_x = image.shape[0] / height, image.shape[1] / width
                name = f"{folder}/{_dbt_name(patient, study, view, index)}"
                _save_png(image, work / name)
                written.append({
                    "file": name, "patient": patient, "study": study, "view": view, "slice": index,
                    "slices": n_frames, "flipped": flipped, "source": str(volume), "height": image.shape[0],
                    "width": image.shape[1], "boxes": [{
                        "x": float(box["X"]) * scale_x, "y": float(box["Y"]) * scale_y,
                        "width": float(box["Width"]) * scale_x, "height": float(box["Height"]) * scale_y,
                        "class": box.get("Class", ""), "architectural_distortion": box.get("AD", ""),
                    } for box in boxes],
                })
            return mapping, written

        results = map_files(export, list(jobs), workers, "exporting DBT slices", progress)
        written = [entry for _, entries in results for entry in entries]
        boxes = {entry["file"]: {key: entry[key] for key in ("height", "width", "slice", "source", "boxes")}
                 for entry in written if entry["boxes"]}
        _write_text(work / "boxes.json", json.dumps({
            "coordinates": "pixels of the written image: x to the right and y down from its top-left corner",
            "images": boxes,
        }, indent=2))
        manifest = [{key: value for key, value in entry.items() if key != "boxes"} for entry in written]
        _finish_output(work, settings, manifest)
    per_folder = {folder: sum(entry["file"].startswith(folder + "/") for entry in written)
                  for folder in DBT_FOLDERS.values()}
    return {"counts": per_folder, "missing_views": len(missing), "first_missing": missing[:3],
            "flipped": sum(entry["flipped"] for entry in written), "mapped": describe_mappings(
                [mapping for mapping, _ in results])}
