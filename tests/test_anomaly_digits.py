"""scikit-learn's digits in the Med-AD layout: real images, a valid split, SAGAN's mix fits."""

import json

import pytest

from anomaly_lib.digits import make_digits_dataset, split_sizes
from anomaly_lib.images import load_grayscale
from anomaly_lib.layouts import read_medad
from sagan_lib.data import unlabeled_mix


def test_split_sizes_leave_room_for_sagans_unlabeled_mix():
    sizes = split_sizes(178)
    assert sizes["test_normal"] == 44 == sizes["test_abnormal"]
    assert sizes["train_normal"] + sizes["unlabeled_normal"] + sizes["test_normal"] == 178
    assert sizes["unlabeled_normal"] >= sizes["train_normal"] - int(0.6 * sizes["train_normal"])
    assert sizes["unlabeled_abnormal"] == int(0.6 * sizes["train_normal"])


def test_digits_in_the_medad_layout(tmp_path):
    root = make_digits_dataset(tmp_path / "digits", normal_digits=(3, 5), image_size=32, seed=1)
    splits = read_medad(root)
    unlabeled_mix(splits)  # SAGAN's mix of abnormal and normal unlabeled images fits
    for split, paths in splits.items():
        digits = {int(path.name[5]) for path in paths}  # "digit3_0123.png"
        if split in ("train_normal", "unlabeled_normal", "test_normal"):
            assert digits <= {3, 5}, split
        else:
            assert digits.isdisjoint({3, 5}), split
    every = [path.name for paths in splits.values() for path in paths]
    assert len(every) == len(set(every))  # no image in two splits
    assert load_grayscale(splits["test_abnormal"][:4], 32, progress=False).shape == (4, 32, 32)
    assert json.loads((root / "digits_dataset.json").read_text())["normal_digits"] == [3, 5]


def test_refuses_a_folder_it_did_not_make(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        make_digits_dataset(tmp_path / "mine")
    with pytest.raises(ValueError, match="not all"):
        make_digits_dataset(tmp_path / "all", normal_digits=range(10))
