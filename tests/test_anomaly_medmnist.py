"""`prepare medmnist` on small MedMNIST-format .npz files written here; downloads come from a server
this test starts on localhost (nothing reaches the internet)."""

import contextlib
import csv
import hashlib
import http.server
import json
import re
import threading
import urllib.error

import numpy as np
import pytest
from PIL import Image

from anomaly_lib import medmnist
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



def test_sagan_trains_on_it_with_its_command_line(tmp_path):
    from sagan_lib.method import METHOD

    prepare_medmnist(write_npz(tmp_path / "p.npz"), tmp_path / "medad")
    flags = ["--mode", "train", *map(str, METHOD.data_flags(tmp_path / "medad", tmp_path / "run")),
             *METHOD.smoke_flags, "--image_size", "32", "--d_repeat_num", "5"]
    assert METHOD.main(flags) == 0
    assert (tmp_path / "run" / "last.ckpt").is_file()


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
    with pytest.raises(ValueError, match="--folder-layout 'swssl' is not supported; choose one of medad, chest"):
        prepare_medmnist(tmp_path / "p.npz", tmp_path / "out", layout="swssl")
    with pytest.raises(ValueError, match="--flag 'octmnist' is not supported; choose one of pneumoniamnist, "):
        prepare_medmnist(tmp_path / "p.npz", tmp_path / "out", flag="octmnist")
    assert not (tmp_path / "out").exists()


def test_offline_download_says_so_in_one_line(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr("urllib.request.urlopen", offline)
    with pytest.raises(ConnectionError, match=r"could not download https://zenodo.org/.*pneumoniamnist_64.npz.*--npz"):
        download("pneumoniamnist", 64, tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing half-written is left as the real file
    with pytest.raises(ValueError, match="--size 30 does not exist"):
        download("pneumoniamnist", 30, tmp_path)


@contextlib.contextmanager
def serving(files: dict, truncate=()):
    """An HTTP server on localhost that serves ``files`` (name → bytes) under /records/files/; a
    name in ``truncate`` announces its whole length and sends half, then closes."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            name = self.path.split("?")[0].rsplit("/", 1)[-1]
            if name not in files:
                self.send_error(404)
                return
            body = files[name]
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2] if name in truncate else body)
            self.close_connection = True

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/records/files"
    finally:
        server.shutdown()
        server.server_close()


def test_download_keeps_only_whole_files_with_medmnists_md5(tmp_path, monkeypatch):
    body = write_npz(tmp_path / "source.npz").read_bytes()
    cache = tmp_path / "cache"
    with serving({"pneumoniamnist_64.npz": body, "breastmnist_128.npz": body},
                 truncate={"breastmnist_128.npz"}) as record:
        # the real MD5 of Zenodo's file does not match this made-up file: refused, nothing kept
        with pytest.raises(ValueError, match=r"pneumoniamnist_64.npz\?download=1 has MD5 .* not MedMNIST's 8f4e"):
            download("pneumoniamnist", 64, cache, record=record)
        assert list(cache.iterdir()) == []
        monkeypatch.setitem(medmnist.MD5, ("pneumoniamnist", 64), hashlib.md5(body).hexdigest())
        path = download("pneumoniamnist", 64, cache, record=record)
        assert path == cache / "pneumoniamnist_64.npz" and path.read_bytes() == body
        assert sorted(p.name for p in cache.iterdir()) == ["pneumoniamnist_64.npz"]
        with pytest.raises(ConnectionError, match=r"could not download .*breastmnist_128.npz.*IncompleteRead"):
            download("breastmnist", 128, cache, record=record)  # the connection drops halfway
        with pytest.raises(ConnectionError, match="the server answered 404 Not Found"):
            download("chestmnist", 64, cache, record=record)
        assert sorted(p.name for p in cache.iterdir()) == ["pneumoniamnist_64.npz"]
    assert download("pneumoniamnist", 64, cache, record=record) == path  # cached: the server is gone
    summary = prepare_medmnist(path, tmp_path / "medad", train_normal=10)
    assert summary["counts"]["train_normal"] == 10
    path.write_bytes(body[:-1])  # a cached file changed since
    with pytest.raises(ValueError, match=r"pneumoniamnist_64.npz is not MedMNIST's .* delete it"):
        download("pneumoniamnist", 64, cache, record=record)


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


def test_chest_layout_for_swssl(tmp_path, capsys):
    from anomaly_lib.layouts import read_chest

    npz = write_npz(tmp_path / "p.npz")
    summary = prepare_medmnist(npz, tmp_path / "chest", layout="chest", test_per_class=3)
    found = read_chest(tmp_path / "chest")
    normals = CLASS_COUNTS["train"][0] + CLASS_COUNTS["val"][0]  # every normal: no unlabeled pool to fill
    assert {split: len(paths) for split, paths in found.items()} == {
        "train_normal": normals, "test_normal": 3, "test_abnormal": 3} == summary["counts"]
    assert not (tmp_path / "chest" / "images").exists() and summary["sagan"] is None
    again = prepare_medmnist(npz, tmp_path / "chest", layout="chest", train_normal=5, overwrite=True)
    assert again["counts"]["train_normal"] == 5 and len(read_chest(tmp_path / "chest")["train_normal"]) == 5
    with pytest.raises(ValueError, match=f"--train-normal {normals + 1} is too many.*at most {normals} exist"):
        prepare_medmnist(npz, tmp_path / "other", layout="chest", train_normal=normals + 1)
    assert main(["prepare", "medmnist", "--npz", str(npz), "--folder-layout", "chest", "--test-per-class", "2",
                 "--out", str(tmp_path / "cli")]) == 0
    out = capsys.readouterr().out
    assert "wrote a chest (MedMNIST) layout" in out and "test_abnormal" in out
    assert main(["prepare", "medmnist", "--npz", str(npz), "--test-per-class", "0", "--out", str(tmp_path / "x")]) == 2
    assert "--test-per-class must be ≥ 1" in capsys.readouterr().err


def test_notebooks_get_medmnist_when_it_downloads_and_phantoms_when_not(tmp_path, monkeypatch):
    from anomaly_lib.medmnist import medmnist_or_phantoms

    body = write_npz(tmp_path / "source.npz").read_bytes()  # 16 px: served as the 28 px file
    monkeypatch.setitem(medmnist.MD5, ("pneumoniamnist", 28), hashlib.md5(body).hexdigest())
    counts = {"train_normal": 6, "unlabeled_normal": 4, "unlabeled_abnormal": 3, "test_normal": 2, "test_abnormal": 2}
    said = []
    with serving({"pneumoniamnist.npz": body}) as record:
        root, source = medmnist_or_phantoms(True, tmp_path / "a", "medad", 16, counts, cache=tmp_path / "cache",
                                            record=record, log=said.append)
    assert source == "pneumoniamnist at 28 px (MedMNIST, real images)" and said[-1].startswith(f"data: {source}")
    assert len(read_medad(root)["train_normal"]) == 6
    said.clear()
    chest_counts = {"train_normal": 4, "test_normal": 2, "test_abnormal": 2}
    root, source = medmnist_or_phantoms(True, tmp_path / "b", "chest", 16, chest_counts, cache=tmp_path / "empty",
                                        record=record, log=said.append)  # the server is gone: offline
    assert source == "phantoms" and said[0].startswith("MedMNIST could not be downloaded, so this notebook runs "
                                                       "on phantoms instead: could not download")
    assert (root / "train" / "0.normal").is_dir()
    root, source = medmnist_or_phantoms(False, tmp_path / "c", "medad", 16, counts, log=said.append)
    assert source == "phantoms" and read_medad(root)["test_abnormal"]
