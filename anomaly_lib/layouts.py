"""The three on-disk dataset layouts, defined once for the phantom writer and the dataset readers.

* Med-AD (SAGAN; RSNA, VinDr-CXR, LAG)::

      ROOT/images/<file names>
      ROOT/data.json = {"train": {"0": [...], "unlabeled": {"0": [...], "1": [...]}},
                        "test":  {"0": [...], "1": [...]}}

* Chest (SWSSL, pediatric chest X-ray)::

      ROOT/train/0.normal/   ROOT/test/0.normal/   ROOT/test/1.abnormal/
      (the public release's NORMAL / PNEUMONIA folder names work too)

* DBT (SWSSL, breast tomosynthesis)::

      ROOT/images-normal-unique/train/   ROOT/images-normal-unique/val/
      ROOT/images-tumor-full/val/

Every reader returns a dict from split name (e.g. ``"test_abnormal"``) to a
list of image paths. Every path stays inside the dataset (``anomaly_lib.files.inside``):
a ``data.json`` entry that is absolute or climbs out of ``ROOT/images`` is refused, and so
is an image that is a symbolic link leading out of the dataset folder, unless
``follow_symlinks=True``.
"""

from __future__ import annotations

import json
from pathlib import Path

from .files import Folder, regular_file, writing

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".dcm")  # see images.py

# split name -> where its list of file names sits inside data.json
MEDAD_JSON_KEYS = {
    "train_normal": ("train", "0"),
    "unlabeled_normal": ("train", "unlabeled", "0"),
    "unlabeled_abnormal": ("train", "unlabeled", "1"),
    "test_normal": ("test", "0"),
    "test_abnormal": ("test", "1"),
}

# split name -> accepted folder names under ROOT (the first is the one we write)
CHEST_FOLDERS = {
    "train_normal": ("train/0.normal", "train/NORMAL"),
    "test_normal": ("test/0.normal", "test/NORMAL"),
    "test_abnormal": ("test/1.abnormal", "test/PNEUMONIA"),
}
# the public chest release also has abnormal training images; SWSSL ignores them
CHEST_OPTIONAL_FOLDERS = {"train_abnormal": ("train/1.abnormal", "train/PNEUMONIA")}

DBT_FOLDERS = {
    "train_normal": "images-normal-unique/train",
    "test_normal": "images-normal-unique/val",
    "test_abnormal": "images-tumor-full/val",
}


# ---------------------------------------------------------------------------- Med-AD


def read_medad(root, follow_symlinks: bool | None = None) -> dict[str, list[Path]]:
    """Read ``ROOT/data.json`` into full image paths under ``ROOT/images``, one list per split.

    The JSON is checked here, and that every entry stays inside ``ROOT/images`` (links too,
    unless ``follow_symlinks``); whether the image files exist is checked when they are loaded.
    """
    root = Path(root)
    json_path = regular_file(root / "data.json", "the Med-AD list")
    if not json_path.is_file():
        raise FileNotFoundError(f"Med-AD layout needs {json_path}, which does not exist")
    try:
        data = json.loads(json_path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{json_path} is not valid JSON: {error}") from error

    splits = {}
    for split, json_keys in MEDAD_JSON_KEYS.items():
        value = data
        for depth, key in enumerate(json_keys):
            if not isinstance(value, dict) or key not in value:
                missing = "/".join(json_keys[: depth + 1])
                raise ValueError(f"data.json is missing key {missing} (in {json_path})")
            value = value[key]
        key_path = "/".join(json_keys)
        if not isinstance(value, list):
            raise ValueError(
                f"data.json key {key_path} must be a list of file names; got {type(value).__name__}"
            )
        not_names = [name for name in value if not isinstance(name, str)]
        if not_names:
            raise ValueError(
                f"data.json key {key_path} must list file names (strings); found {not_names[:3]!r}"
            )
        images = Folder(root / "images", follow_symlinks, [root])
        splits[split] = [images.entry(name, f"{json_path} ({key_path})") for name in value]
    return splits


def unlabeled_counts(n_train_normal: int, ar: float) -> tuple[int, int]:
    """SAGAN's unlabeled mix for N labeled normals (the authors' rule): (int(N·ar) abnormal,
    N − int(N·ar) normal) images, one per labeled normal."""
    n_abnormal = int(n_train_normal * ar)
    return n_abnormal, n_train_normal - n_abnormal


def write_medad_json(root, lists: dict[str, list[str]]) -> Path:
    """Write ``ROOT/data.json`` from one list of file names per split; returns its path."""
    unknown = sorted(set(lists) - set(MEDAD_JSON_KEYS))
    missing = sorted(set(MEDAD_JSON_KEYS) - set(lists))
    if unknown or missing:
        raise ValueError(
            f"write_medad_json needs exactly the splits {list(MEDAD_JSON_KEYS)}; "
            f"unknown: {unknown}, missing: {missing}"
        )
    data: dict = {}
    for split, json_keys in MEDAD_JSON_KEYS.items():
        parent = data
        for key in json_keys[:-1]:
            parent = parent.setdefault(key, {})
        parent[json_keys[-1]] = [str(name) for name in lists[split]]
    json_path = Path(root) / "data.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    with writing(json_path):
        json_path.write_text(json.dumps(data, indent=2))
    return json_path


# ---------------------------------------------------------------------------- folder layouts


def list_images(folder, follow_symlinks: bool | None = None, within=()) -> list[Path]:
    """The image files directly inside ``folder``, sorted (extensions case-insensitive).

    A link that leads out of ``folder`` (and out of the folders ``within``) is refused unless
    ``follow_symlinks``.
    """
    checked = Folder(folder, follow_symlinks, within)
    return sorted(
        checked.entry(path.name, f"the folder {folder}")
        for path in Path(folder).iterdir()
        if path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS
    )


def _folders_found(root: Path, max_shown: int = 20) -> str:
    """A short listing of the folders under ROOT (two levels), for error messages."""
    if not root.is_dir():
        return f"{root} does not exist"
    folders = sorted(
        str(path.relative_to(root)) + "/"
        for pattern in ("*", "*/*")
        for path in root.glob(pattern)
        if path.is_dir()
    )
    if not folders:
        return f"{root} contains no folders"
    shown = ", ".join(folders[:max_shown])
    more = f" and {len(folders) - max_shown} more" if len(folders) > max_shown else ""
    return f"found under {root}: {shown}{more}"


def _read_split(root: Path, layout: str, candidates: tuple[str, ...], follow_symlinks: bool | None) -> list[Path] | None:
    """Images of the one existing candidate folder; None if none exists."""
    existing = [root / name for name in candidates if (root / name).is_dir()]
    if not existing:
        return None
    if len(existing) > 1:
        raise ValueError(
            f"{layout} layout: both {existing[0]} and {existing[1]} exist; keep only one"
        )
    images = list_images(existing[0], follow_symlinks, [root])
    if not images:
        raise ValueError(
            f"{existing[0]} contains no images (looked for {', '.join(IMAGE_EXTENSIONS)})"
        )
    return images


def _read_folders(root, layout: str, required: dict, optional: dict,
                  follow_symlinks: bool | None) -> dict[str, list[Path]]:
    """Shared reader for the folder-per-split layouts."""
    root = Path(root)
    splits = {}
    for split, candidates in {**required, **optional}.items():
        if isinstance(candidates, str):
            candidates = (candidates,)
        images = _read_split(root, layout, candidates, follow_symlinks)
        if images is not None:
            splits[split] = images
        elif split in required:
            wanted = " or ".join(str(root / name) for name in candidates)
            raise FileNotFoundError(
                f"{layout} layout: missing folder {wanted} ({_folders_found(root)})"
            )
    return splits


def read_chest(root, follow_symlinks: bool | None = None) -> dict[str, list[Path]]:
    """Image paths of the chest layout: train_normal, test_normal, test_abnormal.

    ``train_abnormal`` is included too when such a folder exists (the public
    release has one); SWSSL trains on normal images only and ignores it.
    """
    return _read_folders(root, "chest", CHEST_FOLDERS, CHEST_OPTIONAL_FOLDERS, follow_symlinks)


def read_dbt(root, follow_symlinks: bool | None = None) -> dict[str, list[Path]]:
    """Image paths of the DBT layout: train_normal, test_normal, test_abnormal."""
    return _read_folders(root, "dbt", DBT_FOLDERS, {}, follow_symlinks)


LAYOUT_READERS = {"medad": read_medad, "chest": read_chest, "dbt": read_dbt}


def read_layout(root, layout: str, follow_symlinks: bool | None = None) -> dict[str, list[Path]]:
    """Call the reader of ``layout`` ("medad", "chest" or "dbt")."""
    if layout not in LAYOUT_READERS:
        raise ValueError(f"unknown layout {layout!r}; choose one of {list(LAYOUT_READERS)}")
    return LAYOUT_READERS[layout](root, follow_symlinks)
