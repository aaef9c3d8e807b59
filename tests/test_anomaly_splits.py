"""Repeated images warn; an image in both a training and a test split is refused."""

import json
import shutil

import pytest

from anomaly_lib.layouts import read_chest, read_medad
from anomaly_lib.phantoms import make_phantom_dataset
from anomaly_lib.splits import SplitOverlapError, check_splits, same_images

COUNTS = {"train_normal": 4, "unlabeled_normal": 2, "unlabeled_abnormal": 2, "test_normal": 2, "test_abnormal": 2}


@pytest.fixture
def medad(tmp_path):
    return make_phantom_dataset(tmp_path / "medad", "medad", 32, COUNTS, seed=1)


def edit_lists(root, change):
    path = root / "data.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_a_clean_dataset_passes_silently(medad, recwarn):
    assert check_splits(read_medad(medad)) == []
    assert not recwarn.list


def test_a_name_listed_twice_in_a_split_warns(medad):
    edit_lists(medad, lambda d: d["train"]["0"].append(d["train"]["0"][0]))
    with pytest.warns(UserWarning, match="listed 2 times: train_normal_0000.png \\(train_normal\\)"):
        check_splits(read_medad(medad))


def test_copies_of_one_image_under_several_names_are_called_so(medad):
    images = medad / "images"
    for name in ("test_normal_0001.png", "test_abnormal_0000.png"):  # e.g. blank images: the same pixels
        shutil.copy(images / "test_normal_0000.png", images / name)
    with pytest.warns(UserWarning, match="3 files hold the same pixels, listed 3 times: test_normal_0000.png"):
        check_splits(read_medad(medad))


def test_a_test_image_in_a_training_list_is_refused_unless_allowed(medad):
    edit_lists(medad, lambda d: d["train"]["0"].append(d["test"]["1"][0]))
    with pytest.raises(SplitOverlapError, match="training split and a test split.*test_abnormal_0000.png") as error:
        check_splits(read_medad(medad))
    assert "--allow_overlap" in str(error.value)
    with pytest.warns(UserWarning, match="allowed by --allow_overlap"):
        check_splits(read_medad(medad), allow_overlap=True)


def test_a_copy_under_another_name_is_the_same_image(medad):
    images = medad / "images"
    shutil.copy(images / "test_normal_0001.png", images / "renamed_copy.png")
    edit_lists(medad, lambda d: d["train"]["unlabeled"]["0"].append("renamed_copy.png"))
    with pytest.raises(SplitOverlapError, match="renamed_copy.png \\(unlabeled_normal\\)"):
        check_splits(read_medad(medad))


def test_folder_layouts_link_or_copy_into_train_is_refused(tmp_path):
    root = make_phantom_dataset(tmp_path / "chest", "chest", 32,
                                {"train_normal": 3, "test_normal": 2, "test_abnormal": 2}, seed=2)
    assert check_splits(read_chest(root)) == []
    (root / "train/0.normal/link.png").symlink_to(root / "test/1.abnormal/test_abnormal_0000.png")
    with pytest.raises(SplitOverlapError, match="link.png \\(train_normal\\)"):
        check_splits(read_chest(root))


def test_same_images_groups_paths_by_file_and_by_bytes(tmp_path):
    a, b, c, d = (tmp_path / name for name in "abcd")
    a.write_bytes(b"x" * 100)
    b.write_bytes(b"x" * 100)  # a copy
    c.write_bytes(b"x" * 99 + b"y")  # same size, other bytes
    d.write_bytes(b"z")
    groups = same_images([a, b, c, d, tmp_path / "." / "c", tmp_path / "missing"])
    assert sorted(sorted(p.name for p in g) for g in groups) == [["a", "b"], ["c", "c"]]
