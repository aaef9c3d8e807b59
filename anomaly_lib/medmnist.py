"""Real images in one command: a MedMNIST(+) file → a Med-AD folder for SAGAN (and `compare`).

    python -m anomaly_lib prepare medmnist --flag pneumoniamnist --size 64 --out DIR   # downloads
    python -m anomaly_lib prepare medmnist --npz pneumoniamnist_64.npz --out DIR       # a file on disk

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
    or the N you give; the unlabeled pool is exactly that mix.
Files are named after their place in the ``.npz`` (``train01234.png``, ``val00012.png``,
``test00007.png``), and ``manifest.csv`` gives each file's split and label.
"""

from __future__ import annotations

import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .layouts import unlabeled_counts, write_medad_json
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


def npz_url(flag: str, size: int) -> str:
    name = f"{flag}.npz" if size == 28 else f"{flag}_{size}.npz"
    return f"{ZENODO_RECORD}/{name}?download=1"


def download(flag: str, size: int, cache_dir) -> Path:
    """The set's ``.npz`` in ``cache_dir`` (downloaded once); a ConnectionError in one line when offline."""
    check_flag_and_size(flag, size)
    path = Path(cache_dir).expanduser() / (f"{flag}.npz" if size == 28 else f"{flag}_{size}.npz")
    if path.is_file():
        return path
    url = npz_url(flag, size)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(url, timeout=60) as response, \
                tempfile.NamedTemporaryFile(dir=path.parent, suffix=".part", delete=False) as part:
            while chunk := response.read(1 << 20):
                part.write(chunk)
    except (urllib.error.URLError, TimeoutError) as error:
        reason = getattr(error, "reason", error)
        raise ConnectionError(f"could not download {url} ({reason}); offline? Fetch the file by hand and "
                              "pass --npz FILE") from None
    Path(part.name).replace(path)  # complete files only: an interrupted download leaves a .part behind
    return path


def check_flag_and_size(flag: str, size: int) -> None:
    if flag not in FLAGS:
        raise ValueError(f"--flag {flag!r} is not supported; choose one of {', '.join(FLAGS)}")
    if size not in SIZES:
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


def medad_lists(splits: dict, ar: float = 0.6, seed: int = 0, train_normal: int | None = None) -> dict:
    """``{Med-AD split: [(npz split, index), ...]}`` chosen as the module docstring says."""
    rng = np.random.default_rng(seed)

    def shuffled(pairs: list) -> list:
        return [pairs[i] for i in rng.permutation(len(pairs))]

    test_normal = shuffled([("test", i) for i in np.flatnonzero(~splits["test"][1])])
    test_abnormal = shuffled([("test", i) for i in np.flatnonzero(splits["test"][1])])
    per_class = min(len(test_normal), len(test_abnormal))
    normals = shuffled([(split, i) for split in ("train", "val") for i in np.flatnonzero(~splits[split][1])])
    abnormals = shuffled([(split, i) for split in ("train", "val") for i in np.flatnonzero(splits[split][1])])
    largest = largest_train_normal(len(normals), len(abnormals), ar)
    if train_normal is None:
        train_normal = largest
    elif train_normal > largest:
        raise ValueError(f"--train-normal {train_normal} is too many: with {len(normals)} normal and "
                         f"{len(abnormals)} abnormal training images, at most {largest} fit SAGAN's mix at ar={ar}")
    n_abnormal, n_normal = unlabeled_counts(train_normal, ar)
    return {
        "train_normal": normals[:train_normal],
        "unlabeled_normal": normals[train_normal:train_normal + n_normal],
        "unlabeled_abnormal": abnormals[:n_abnormal],
        "test_normal": test_normal[:per_class],
        "test_abnormal": test_abnormal[:per_class],
    }


def prepare_medmnist(npz, out_dir, flag: str = "pneumoniamnist", ar: float = 0.6, seed: int = 0,
                     train_normal: int | None = None, overwrite: bool = False) -> dict:
    """Write a Med-AD folder from a MedMNIST ``.npz``; returns a summary like ``prepare_medad``'s."""
    if flag not in FLAGS:
        raise ValueError(f"--flag {flag!r} is not supported; choose one of {', '.join(FLAGS)}")
    if not 0 <= ar <= 1:
        raise ValueError(f"--ar must lie in [0, 1], got {ar}")
    splits = read_npz(npz, flag)
    lists = medad_lists(splits, ar, seed, train_normal)
    out_dir = Path(out_dir)
    settings = {"command": "prepare medmnist", "npz": str(Path(npz).resolve()), "flag": flag, "ar": ar,
                "seed": seed, "train_normal": train_normal}
    names, manifest = {}, []
    with _new_output(out_dir, overwrite, [], settings) as work:  # swapped into out_dir when complete
        (work / "images").mkdir()
        for medad_split in MEDAD_SPLITS:
            names[medad_split] = []
            for npz_split, index in lists[medad_split]:
                images, abnormal = splits[npz_split]
                name = f"{npz_split}{index:05d}.png"
                _save_png(images[index], work / "images" / name)
                names[medad_split].append(name)
                manifest.append({"file": name, "split": medad_split, "label": int(abnormal[index]),
                                 "source": f"{Path(npz).name}:{npz_split}_images[{index}]"})
        write_medad_json(work, names)
        _finish_output(work, settings, manifest)
    return {"counts": {split: len(names[split]) for split in MEDAD_SPLITS}, "mapped": "",
            "sagan": sagan_check({split: names[split] for split in MEDAD_SPLITS}, ar),
            "image_size": list(splits["test"][0].shape[1:])}


def add_parser(layouts) -> None:
    """The ``prepare medmnist`` subcommand's flags (registered by ``__main__``)."""
    medmnist = layouts.add_parser(
        "medmnist", help="a MedMNIST(+) set -> Med-AD layout (SAGAN); downloads unless --npz",
        description="Balanced test split from MedMNIST's test set; labeled normals and SAGAN's unlabeled "
        "mix at --ar from its train and val sets.")
    medmnist.add_argument("--flag", default="pneumoniamnist", choices=list(FLAGS))
    medmnist.add_argument("--size", type=int, default=64, help=f"one of {', '.join(map(str, SIZES))} (default 64)")
    medmnist.add_argument("--npz", help="a MedMNIST .npz already on disk (no download)")
    medmnist.add_argument("--cache", default="~/.medmnist", help="where a download is kept (default ~/.medmnist)")
    medmnist.add_argument("--train-normal", type=int, help="labeled normals (default: the most that fit)")
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
    return prepare_medmnist(npz, args.out, args.flag, args.ar, args.seed, args.train_normal, args.overwrite)
