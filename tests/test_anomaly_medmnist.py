"""`prepare medmnist` on small MedMNIST-format .npz files written here (nothing downloads)."""

import csv
import json
import re
import urllib.error

import numpy as np
import pytest
from PIL import Image

from anomaly_lib.__main__ import main
from anomaly_lib.layouts import read_medad, unlabeled_counts
from anomaly_lib.medmnist import download, medad_lists, prepare_medmnist, read_npz
from sagan_lib.data import MedADTestSet, MedADTrainSet

# (normal, abnormal) images per MedMNIST split
CLASS_COUNTS = {"train": (20, 30), "val": (4, 6), "test": (5, 9)}


def write_npz(path, size=16, counts=CLASS_COUNTS, seed=0):
    """A PneumoniaMNIST-shaped file: grey uint8 images, labels (N, 1) with 0 normal and 1 pneumonia."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, (n_normal, n_abnormal) in counts.items():
        labels = np.array([0] * n_normal + [1] * n_abnormal, np.uint8)[:, None]
        arrays[f"{split}_images"] = rng.integers(0, 256, (len(labels), size, size), dtype=np.uint8)
        arrays[f"{split}_labels"] = labels
    np.savez(path, **arrays)
    return path


def test_splits_follow_the_kits_rule(tmp_path):
    splits = read_npz(write_npz(tmp_path / "p.npz"), "pneumoniamnist")
    lists = medad_lists(splits, ar=0.6, seed=0)
    n = len(lists["train_normal"])
    # 24 normals and 36 abnormals on the train side (train + val)
    n_abnormal, n_normal = unlabeled_counts(n, 0.6)
    assert n + n_normal <= 24 and n_abnormal <= 36
    bigger_abnormal, bigger_normal = unlabeled_counts(n + 1, 0.6)
    assert (n + 1) + bigger_normal > 24  # the largest N that fits
    assert (len(lists["unlabeled_abnormal"]), len(lists["unlabeled_normal"])) == (n_abnormal, n_normal)
    # a balanced test split from MedMNIST's test set only
    assert len(lists["test_normal"]) == len(lists["test_abnormal"]) == 5
    assert {split for split, _ in lists["test_normal"] + lists["test_abnormal"]} == {"test"}
    # no image is used twice, and the train side never touches the test split
    used = [pair for pairs in lists.values() for pair in pairs]
    assert len(used) == len(set(used))
    assert all(split in ("train", "val") for key in ("train_normal", "unlabeled_normal", "unlabeled_abnormal")
               for split, _ in lists[key])
    # the labels are right: normals from the first columns of each split, abnormals after them
    for key, want in (("train_normal", 0), ("unlabeled_normal", 0), ("unlabeled_abnormal", 1)):
        assert all(splits[split][1][index] == want for split, index in lists[key])


def test_folder_is_read_by_sagan_and_names_its_sources(tmp_path):
    npz = write_npz(tmp_path / "p.npz")
    summary = prepare_medmnist(npz, tmp_path / "medad", seed=1)
    assert summary["sagan"] is None
    lists = read_medad(tmp_path / "medad")
    assert {split: len(paths) for split, paths in lists.items()} == summary["counts"]
    train = MedADTrainSet(tmp_path / "medad", 16)
    test = MedADTestSet(tmp_path / "medad", 16)
    assert len(train) == summary["counts"]["train_normal"]
    assert test.labels.tolist().count(0) == test.labels.tolist().count(1) == 5
    with open(tmp_path / "medad" / "manifest.csv") as file:
        first = next(csv.DictReader(file))
    assert first["split"] == "train_normal" and first["label"] == "0"
    # the written pixels are the .npz's own, at the place the manifest names
    key, index = re.fullmatch(r"p\.npz:(\w+)\[(\d+)\]", first["source"]).groups()
    written = np.asarray(Image.open(tmp_path / "medad" / "images" / first["file"]))
    assert np.array_equal(written, np.load(npz)[key][int(index)])


def test_breastmnist_counts_malignant_as_abnormal(tmp_path):
    splits = read_npz(write_npz(tmp_path / "b.npz"), "breastmnist")
    # in BreastMNIST label 0 is malignant: here the first 20 train images
    assert splits["train"][1][:20].all() and not splits["train"][1][20:].any()


def test_bad_files_get_one_line(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_npz(tmp_path / "missing.npz", "pneumoniamnist")
    np.savez(tmp_path / "partial.npz", train_images=np.zeros((2, 4, 4), np.uint8))
    with pytest.raises(ValueError, match="lacks the MedMNIST key"):
        read_npz(tmp_path / "partial.npz", "pneumoniamnist")
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(ValueError, match="not a readable .npz"):
        read_npz(tmp_path / "junk.npz", "pneumoniamnist")
    with pytest.raises(ValueError, match="at most"):
        prepare_medmnist(write_npz(tmp_path / "p.npz"), tmp_path / "out", train_normal=100)


def test_offline_download_says_so_in_one_line(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr("urllib.request.urlopen", offline)
    with pytest.raises(ConnectionError, match=r"could not download https://zenodo.org/.*pneumoniamnist_64.npz.*--npz"):
        download("pneumoniamnist", 64, tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing half-written is left as the real file
    with pytest.raises(ValueError, match="--size 30 does not exist"):
        download("pneumoniamnist", 30, tmp_path)


def test_command_line(tmp_path, capsys, monkeypatch):
    npz = write_npz(tmp_path / "p.npz")
    assert main(["prepare", "medmnist", "--npz", str(npz), "--out", str(tmp_path / "medad"),
                 "--train-normal", "10"]) == 0
    out = capsys.readouterr().out
    assert "train_normal" in out and "10 images" in out
    settings = json.loads((tmp_path / "medad" / "prepare.json").read_text())
    assert settings["complete"] and settings["flag"] == "pneumoniamnist"

    def offline(*args, **kwargs):
        raise urllib.error.URLError("offline")

    monkeypatch.setattr("urllib.request.urlopen", offline)
    code = main(["prepare", "medmnist", "--flag", "chestmnist", "--size", "64", "--cache", str(tmp_path / "cache"),
                 "--out", str(tmp_path / "other")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "could not download" in err
