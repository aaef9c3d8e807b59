"""A small real dataset in the Med-AD layout, made offline: scikit-learn's handwritten digits.

scikit-learn ships 1,797 real 8×8 grey scans of handwritten digits (the UCI "optical
recognition of handwritten digits" test set; `sklearn.datasets.load_digits`, no download).
They are not medical images. They serve where the kit needs *real* data without internet:
real scans vary the way real data does, which phantoms only imitate. Some digits play
"normal" and the others "abnormal"; images are upscaled to `image_size` (bilinear) and split
into the Med-AD layout that SAGAN and the comparison read:

  * a quarter of the normal digits' images → `test/0`;
  * of the rest, N → `train/0` and the remainder → `train/unlabeled/0`, with N as large as
    SAGAN's unlabeled mix allows (it needs N − int(0.6·N) unlabeled normals);
  * int(0.6·N) other digits → `train/unlabeled/1`, and as many as `test/0` → `test/1`.

One digit against the nine others is nearly solved by PCA (8 components, 32×32, seed 0: test
AUC 0.98 to 1.00 for every digit), which leaves no room to see differences; the even digits
against the odd ones are harder (PCA 0.90, the mean image 0.82).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from .layouts import unlabeled_counts, write_medad_json
from .phantoms import prepare_output_folder

SETTINGS_FILE = "digits_dataset.json"  # marks a folder as ours, so it may be rewritten


def split_sizes(normal_count: int, ar: float = 0.6) -> dict:
    """How many normal images go to each split, for `normal_count` images of the normal digit."""
    test_normal = normal_count // 4
    rest = normal_count - test_normal
    train_normal = max(n for n in range(rest + 1) if n + unlabeled_counts(n, ar)[1] <= rest)
    return {"train_normal": train_normal, "unlabeled_normal": rest - train_normal, "test_normal": test_normal,
            "unlabeled_abnormal": unlabeled_counts(train_normal, ar)[0], "test_abnormal": test_normal}


def make_digits_dataset(out_dir, normal_digits=0, image_size: int = 64, seed: int = 0) -> Path:
    """Write the digits as a Med-AD folder (`images/` + `data.json`); returns `out_dir`.

    `normal_digits` is one digit or several, e.g. `(0, 2, 4, 6, 8)`.
    """
    from sklearn.datasets import load_digits

    normal_digits = sorted({int(normal_digits)} if np.isscalar(normal_digits) else {int(d) for d in normal_digits})
    if not normal_digits or not set(normal_digits) < set(range(10)):
        raise ValueError(f"normal_digits must be some of the digits 0 to 9 (not all), got {normal_digits}")
    out_dir = Path(out_dir)
    prepare_output_folder(out_dir, marker=SETTINGS_FILE)
    (out_dir / "images").mkdir()

    digits = load_digits()
    images = (digits.images * (255 / 16)).round().astype(np.uint8)  # (1797, 8, 8), ink values 0-16 → 0-255
    rng = np.random.default_rng(seed)
    is_normal = np.isin(digits.target, normal_digits)
    normal, others = rng.permutation(np.flatnonzero(is_normal)), rng.permutation(np.flatnonzero(~is_normal))
    sizes = split_sizes(len(normal))
    chosen, start = {}, 0
    for split in ("test_normal", "train_normal", "unlabeled_normal"):
        chosen[split], start = normal[start:start + sizes[split]], start + sizes[split]
    chosen["unlabeled_abnormal"] = others[:sizes["unlabeled_abnormal"]]
    chosen["test_abnormal"] = others[sizes["unlabeled_abnormal"]:sizes["unlabeled_abnormal"] + sizes["test_abnormal"]]

    names = {}
    for split, indices in chosen.items():
        names[split] = []
        for index in indices:
            name = f"digit{digits.target[index]}_{index:04d}.png"
            picture = Image.fromarray(images[index]).resize((image_size, image_size), Image.Resampling.BILINEAR)
            picture.save(out_dir / "images" / name)
            names[split].append(name)
    write_medad_json(out_dir, names)
    settings = {"source": "sklearn.datasets.load_digits", "normal_digits": normal_digits,
                "image_size": image_size, "seed": seed, "counts": {k: len(v) for k, v in names.items()}}
    (out_dir / SETTINGS_FILE).write_text(json.dumps(settings, indent=2))
    return out_dir
