"""Real images in one command: a MedMNIST(+) file → a Med-AD folder for SAGAN (and `compare`), or
a chest-layout folder for SWSSL.

    python -m anomaly_lib prepare medmnist --flag pneumoniamnist --size 64 --out DIR   # downloads
    python -m anomaly_lib prepare medmnist --npz pneumoniamnist_64.npz --out DIR       # a file on disk
    python -m anomaly_lib prepare medmnist --size 224 --layout chest --out DIR         # SWSSL's layout

MedMNIST (Yang et al., Scientific Data 2023) ships each set as one ``.npz`` with the keys
``train_images``, ``train_labels``, ``val_images``, ``val_labels``, ``test_images`` and
``test_labels``; MedMNIST+ adds 64, 128 and 224 px versions (``{flag}_{size}.npz``). Which
label is "abnormal" depends on the set (``FLAGS``).

How the folder is filled (every choice seeded):
  * test: MedMNIST's own test split, balanced: all images of its smaller class and as many,
    drawn at random, of the other;
  * train side: MedMNIST's train and val splits together (the kit selects no model on a
    validation set): ``train_normal`` is the largest N whose SAGAN unlabeled mix fits
    (``int(N·ar)`` abnormal and ``N − int(N·ar)`` normal images, ``layouts.unlabeled_counts``),
    or the N you give; the unlabeled pool is exactly that mix;
  * the chest layout (``train/0.normal``, ``test/0.normal``, ``test/1.abnormal``) has no unlabeled
    pool: ``train_normal`` defaults to every normal training image;
  * ``test_per_class`` keeps only the first N of each test class (a shorter test on a CPU).
Files are named after their place in the ``.npz`` (``train01234.png``, ``val00012.png``,
``test00007.png``), and ``manifest.csv`` gives each file's split and label.
"""

from __future__ import annotations

import hashlib
import http.client
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .layouts import CHEST_FOLDERS, unlabeled_counts, write_medad_json
from .prepare import (
    MEDAD_SPLITS,
    _finish_output,
    _new_output,
    _save_png,
    largest_train_normal,
    sagan_check,
)

NPZ_SPLITS = ("train", "val", "test")
SIZES = (28, 64, 128, 224)
# MedMNIST v3 (MedMNIST+) on Zenodo: every set at every size, as in the `medmnist` package
ZENODO_RECORD = "https://zenodo.org/records/10519652/files"
# The MD5 of every file the kit downloads, as the `medmnist` package (v3.0.2, info.py) publishes them:
# a download that does not match is refused, so a truncated or substituted file never reaches a split.
MD5 = {
    ("pneumoniamnist", 28): "28209eda62fecd6e6a2d98b1501bb15f",
    ("pneumoniamnist", 64): "8f4eceb4ccffa70c672198ea285246c6",
    ("pneumoniamnist", 128): "05b46931834c231683c68f40c47b2971",
    ("pneumoniamnist", 224): "d6a3c71de1b945ea11211b03746c1fe1",
    ("chestmnist", 28): "02c8a6516a18b556561a56cbdd36c4a8",
    ("chestmnist", 64): "9de6cd0b934ebb5b7426cfba5efbae16",
    ("chestmnist", 128): "db107e5590b27930b62dbaf558aebee3",
    ("chestmnist", 224): "45bd33e6f06c3e8cdb481c74a89152aa",
    ("breastmnist", 28): "750601b1f35ba3300ea97c75c52ff8f6",
    ("breastmnist", 64): "742edef2a1fd1524b2efff4bd7ba9364",
    ("breastmnist", 128): "363e4b3f8d712e9b5de15470a2aaadf1",
    ("breastmnist", 224): "b56378a6eefa9fed602bb16d192d4c8b",
}


@dataclass(frozen=True)
class Flag:
    """A MedMNIST set the kit can turn into a normal-vs-abnormal task."""

    description: str
    is_abnormal: Callable  # labels array (N, k) → bool (N,)


FLAGS = {
    "pneumoniamnist": Flag("pediatric chest X-rays; 0 normal, 1 pneumonia",
                           lambda labels: labels[:, 0] == 1),
    "chestmnist": Flag("NIH ChestX-ray14; 14 finding labels, abnormal = any finding",
                       lambda labels: labels.any(axis=1)),
    "breastmnist": Flag("breast ultrasound; 0 malignant, 1 normal or benign: abnormal = malignant",
                        lambda labels: labels[:, 0] == 0),
}


def npz_name(flag: str, size: int) -> str:
    return f"{flag}.npz" if size == 28 else f"{flag}_{size}.npz"


def npz_url(flag: str, size: int, record: str | None = None) -> str:
    return f"{record or ZENODO_RECORD}/{npz_name(flag, size)}?download=1"


def file_md5(path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def download(flag: str, size: int, cache_dir, record: str | None = None) -> Path:
    """The set's ``.npz`` in ``cache_dir``, downloaded once and checked against MedMNIST's MD5.

    Offline, or when the connection drops, a ConnectionError in one line; a file whose MD5 is
    wrong (in the cache or just downloaded) is a ValueError naming it. The file appears under its
    own name only when whole and checked; the partial download is removed.
    """
    check_flag_and_size(flag, size)
    path = Path(cache_dir).expanduser() / npz_name(flag, size)
    expected = MD5[flag, size]
    if path.is_file():
        if (found := file_md5(path)) != expected:
            raise ValueError(f"{path} is not MedMNIST's {path.name} (MD5 {found}, expected {expected}); "
                             "delete it to download it again")
        return path
    url = npz_url(flag, size, record)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.part")  # our own name: never a file the user keeps
    part.unlink(missing_ok=True)
    digest, received = hashlib.md5(), 0
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(part, "xb") as file:
            announced = int(response.headers.get("Content-Length") or 0)
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                file.write(chunk)
                received += len(chunk)
            if received < announced:  # read(n) returns what came before the connection closed
                raise http.client.IncompleteRead(b"", announced - received)
    except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError) as error:
        part.unlink(missing_ok=True)
        if isinstance(error, urllib.error.HTTPError):
            why = f"the server answered {error.code} {error.reason}"
        else:
            why = f"{type(error).__name__}: {getattr(error, 'reason', None) or error}; offline?"
        raise ConnectionError(f"could not download {url} ({why}). Fetch the file by hand and pass --npz FILE") from None
    except BaseException:  # a full disk, an interrupt: no partial file stays behind
        part.unlink(missing_ok=True)
        raise
    if digest.hexdigest() != expected:
        part.unlink()
        raise ValueError(f"the download of {url} has MD5 {digest.hexdigest()}, not MedMNIST's {expected} "
                         "(truncated or changed on the server); nothing was kept")
    part.replace(path)
    return path


def check_flag_and_size(flag: str, size: int | None = None) -> None:
    """One line for a set the kit does not know, or (when given) a size MedMNIST does not have."""
    if flag not in FLAGS:
        raise ValueError(f"--flag {flag!r} is not supported; choose one of {', '.join(FLAGS)}")
    if size is not None and size not in SIZES:
        raise ValueError(f"--size {size} does not exist in MedMNIST; choose one of {', '.join(map(str, SIZES))}")


def read_npz(path, flag: str) -> dict:
    """``{split: (images uint8 (N, H, W), abnormal bool (N,))}`` for train, val and test."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--npz {path}: no such file")
    try:
        archive = np.load(path)
    except (OSError, ValueError) as error:
        raise ValueError(f"--npz {path} is not a readable .npz file ({error})") from None
    with archive:
        wanted = [f"{split}_{kind}" for split in NPZ_SPLITS for kind in ("images", "labels")]
        missing = [key for key in wanted if key not in archive.files]
        if missing:
            raise ValueError(f"--npz {path} lacks the MedMNIST key(s) {', '.join(missing)}")
        splits = {}
        for split in NPZ_SPLITS:
            images, labels = archive[f"{split}_images"], archive[f"{split}_labels"]
            if images.ndim != 3 or images.dtype != np.uint8:
                raise ValueError(f"--npz {path}: {split}_images must be grey uint8 (N, H, W); got "
                                 f"{images.dtype} {images.shape}")
            labels = labels.reshape(len(labels), -1)  # (N, k): one column, or one per finding
            if len(labels) != len(images):
                raise ValueError(f"--npz {path}: {len(images)} {split}_images but {len(labels)} {split}_labels")
            splits[split] = (images, np.asarray(FLAGS[flag].is_abnormal(labels), bool))
    return splits


def medad_lists(splits: dict, ar: float = 0.6, seed: int = 0, train_normal: int | None = None,
                unlabeled: bool = True, test_per_class: int | None = None) -> dict:
    """``{Med-AD split: [(npz split, index), ...]}`` chosen as the module docstring says; without
    ``unlabeled`` (the chest layout) the unlabeled lists are empty."""
    rng = np.random.default_rng(seed)

    def shuffled(pairs: list) -> list:
        return [pairs[i] for i in rng.permutation(len(pairs))]

    test_normal = shuffled([("test", i) for i in np.flatnonzero(~splits["test"][1])])
    test_abnormal = shuffled([("test", i) for i in np.flatnonzero(splits["test"][1])])
    per_class = min(len(test_normal), len(test_abnormal), *([test_per_class] if test_per_class else []))
    normals = shuffled([(split, i) for split in ("train", "val") for i in np.flatnonzero(~splits[split][1])])
    abnormals = shuffled([(split, i) for split in ("train", "val") for i in np.flatnonzero(splits[split][1])])
    largest = largest_train_normal(len(normals), len(abnormals), ar) if unlabeled else len(normals)
    if train_normal is None:
        train_normal = largest
    elif train_normal > largest:
        fit = f"fit SAGAN's mix at ar={ar}" if unlabeled else "exist"
        raise ValueError(f"--train-normal {train_normal} is too many: with {len(normals)} normal and "
                         f"{len(abnormals)} abnormal training images, at most {largest} {fit}")
    n_abnormal, n_normal = unlabeled_counts(train_normal, ar) if unlabeled else (0, 0)
    return {
        "train_normal": normals[:train_normal],
        "unlabeled_normal": normals[train_normal:train_normal + n_normal],
        "unlabeled_abnormal": abnormals[:n_abnormal],
        "test_normal": test_normal[:per_class],
        "test_abnormal": test_abnormal[:per_class],
    }


LAYOUTS = ("medad", "chest")
CHEST_SPLITS = tuple(CHEST_FOLDERS)  # train_normal, test_normal, test_abnormal


def prepare_medmnist(npz, out_dir, flag: str = "pneumoniamnist", ar: float = 0.6, seed: int = 0,
                     train_normal: int | None = None, overwrite: bool = False, layout: str = "medad",
                     test_per_class: int | None = None) -> dict:
    """Write a Med-AD (or chest-layout) folder from a MedMNIST ``.npz``; returns a summary like
    ``prepare_medad``'s."""
    check_flag_and_size(flag)
    if layout not in LAYOUTS:
        raise ValueError(f"--folder-layout {layout!r} is not supported; choose one of {', '.join(LAYOUTS)}")
    if not 0 <= ar <= 1:
        raise ValueError(f"--ar must lie in [0, 1], got {ar}")
    if test_per_class is not None and test_per_class < 1:
        raise ValueError(f"--test-per-class must be ≥ 1, got {test_per_class}")
    splits = read_npz(npz, flag)
    medad = layout == "medad"
    lists = medad_lists(splits, ar, seed, train_normal, unlabeled=medad, test_per_class=test_per_class)
    out_dir = Path(out_dir)
    settings = {"command": "prepare medmnist", "npz": str(Path(npz).resolve()), "flag": flag, "ar": ar,
                "seed": seed, "train_normal": train_normal, "layout": layout, "test_per_class": test_per_class}
    written = MEDAD_SPLITS if medad else CHEST_SPLITS
    names, manifest = {}, []
    with _new_output(out_dir, overwrite, [], settings) as work:  # swapped into out_dir when complete
        for split in written:
            folder = "images" if medad else CHEST_FOLDERS[split][0]  # Med-AD: one folder and data.json
            (work / folder).mkdir(parents=True, exist_ok=True)
            names[split] = []
            for npz_split, index in lists[split]:
                images, abnormal = splits[npz_split]
                name = f"{npz_split}{index:05d}.png"
                _save_png(images[index], work / folder / name)
                names[split].append(name)
                manifest.append({"file": name if medad else f"{folder}/{name}", "split": split,
                                 "label": int(abnormal[index]),
                                 "source": f"{Path(npz).name}:{npz_split}_images[{index}]"})
        if medad:
            write_medad_json(work, names)
        _finish_output(work, settings, manifest)
    return {"counts": {split: len(names[split]) for split in written}, "mapped": "", "layout": f"{layout} (MedMNIST)",
            "sagan": sagan_check(names, ar) if medad else None,
            "image_size": list(splits["test"][0].shape[1:])}


def add_parser(layouts) -> None:
    """The ``prepare medmnist`` subcommand's flags (registered by ``__main__``)."""
    medmnist = layouts.add_parser(
        "medmnist", help="a MedMNIST(+) set -> Med-AD layout (SAGAN) or chest layout (SWSSL); downloads unless --npz",
        description="Balanced test split from MedMNIST's test set; labeled normals and SAGAN's unlabeled "
        "mix at --ar from its train and val sets (the chest layout: every normal, no unlabeled pool).")
    medmnist.add_argument("--flag", default="pneumoniamnist", choices=list(FLAGS))
    medmnist.add_argument("--size", type=int, default=64, help=f"one of {', '.join(map(str, SIZES))} (default 64)")
    medmnist.add_argument("--npz", help="a MedMNIST .npz already on disk (no download)")
    medmnist.add_argument("--cache", default="~/.medmnist", help="where a download is kept (default ~/.medmnist)")
    medmnist.add_argument("--folder-layout", default="medad", choices=LAYOUTS,
                          help="medad (default; SAGAN, compare) or chest (SWSSL: train/0.normal, test/…)")
    medmnist.add_argument("--train-normal", type=int, help="labeled normals (default: the most that fit)")
    medmnist.add_argument("--test-per-class", type=int, help="at most N test images per class (default: all "
                          "of the smaller class, as many of the other)")
    medmnist.add_argument("--ar", type=float, default=0.6, help="SAGAN's abnormal share of the unlabeled pool")
    medmnist.add_argument("--out", required=True, help="output folder (new or empty)")
    medmnist.add_argument("--seed", type=int, default=0)
    medmnist.add_argument("--overwrite", action="store_true", help="replace an earlier prepare output in --out")


def run(args) -> dict:
    """``prepare medmnist``: download if needed, then write the folder."""
    if args.npz:
        npz = args.npz
    else:
        check_flag_and_size(args.flag, args.size)
        npz = download(args.flag, args.size, args.cache)
    return prepare_medmnist(npz, args.out, args.flag, args.ar, args.seed, args.train_normal, args.overwrite,
                            args.folder_layout, args.test_per_class)


def medmnist_or_phantoms(use_medmnist: bool, out_dir, layout: str, image_size: int, counts: dict,
                         phantoms: dict | None = None, flag: str = "pneumoniamnist", test_per_class: int | None = None,
                         cache="~/.medmnist", record: str | None = None, log=print) -> tuple[Path, str]:
    """The folder a notebook runs on and what it holds, in words; one line says which.

    With ``use_medmnist``: MedMNIST's ``flag`` at the smallest size ≥ ``image_size`` (at most 224),
    downloaded once, with ``counts["train_normal"]`` labeled normals, in ``layout``. Offline, or
    without ``use_medmnist``: phantoms (``make_phantom_dataset`` with ``counts`` and ``phantoms``).
    """
    from .phantoms import make_phantom_dataset

    out_dir = Path(out_dir)
    if use_medmnist:
        size = next((size for size in SIZES if size >= image_size), SIZES[-1])
        try:
            npz = download(flag, size, cache, record)
        except ConnectionError as error:
            log(f"MedMNIST could not be downloaded, so this notebook runs on phantoms instead: {error}")
        else:
            root = out_dir / f"{flag}_{size}_{layout}"
            summary = prepare_medmnist(npz, root, flag, train_normal=counts["train_normal"], overwrite=True,
                                       layout=layout, test_per_class=test_per_class)
            source = f"{flag} at {size} px (MedMNIST, real images)"
            log(f"data: {source}, {', '.join(f'{k} {v}' for k, v in summary['counts'].items())}")
            return root, source
    root = make_phantom_dataset(out_dir / "phantoms", layout, image_size, counts, seed=0, **(phantoms or {}))
    log(f"data: phantoms, {', '.join(f'{k} {v}' for k, v in counts.items())}")
    return root, "phantoms"
