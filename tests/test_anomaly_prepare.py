"""`python -m anomaly_lib prepare`: Med-AD from folders or a CSV, and DBT from a collection-shaped tree."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from anomaly_lib.__main__ import main
from anomaly_lib.images import ImageLoadError
from anomaly_lib.layouts import read_dbt, read_medad
from anomaly_lib.prepare import (
    MEDAD_SPLITS,
    Source,
    largest_train_normal,
    medad_splits,
    prepare_dbt,
    prepare_medad,
    sources_from_csv,
    sources_from_folders,
)
from sagan_lib.data import MedADTestSet, MedADTrainSet, image_id, unlabeled_mix
from sagan_lib.scoring import average_by_id
from swssl_lib.data import read_images
from tests.dicom_writer import write_dbt_volume, write_dicom

pytestmark = pytest.mark.filterwarnings("ignore::anomaly_lib.images.BitDepthWarning")


def write_pngs(folder: Path, count: int, value: int = 100, size=(12, 10)) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"img{index:03d}.png"
        Image.fromarray(np.full(size, (value + index) % 256, np.uint8)).save(path)
        paths.append(path)
    return paths


def sides(splits: dict) -> tuple[set, set]:
    """Patients on the train side and on the test side."""
    train = {s.patient for name in ("train_normal", "unlabeled_normal", "unlabeled_abnormal") for s in splits[name]}
    test = {s.patient for name in ("test_normal", "test_abnormal") for s in splits[name]}
    return train, test


# ---------------------------------------------------------------------------- Med-AD


def test_folders_with_default_sizes_give_a_folder_sagan_trains_on(tmp_path):
    write_pngs(tmp_path / "normal", 50)
    write_pngs(tmp_path / "abnormal" / "deeper", 30, value=200)  # subfolders are searched too
    sources = sources_from_folders([tmp_path / "normal"], [tmp_path / "abnormal"])
    summary = prepare_medad(sources, tmp_path / "out", progress=False)

    # test: 20 % of each class; train normal N = 28 is the largest with int(0.6 N) = 16 <= 24
    # abnormal and N + N - 16 = 40 <= 40 normal images left (N = 29 needs 41); the rest is unlabeled
    assert summary["counts"] == {"train_normal": 28, "unlabeled_normal": 12, "unlabeled_abnormal": 24,
                                 "test_normal": 10, "test_abnormal": 6}
    assert summary["sagan"] is None and summary["unused"] == 0
    splits = read_medad(tmp_path / "out")
    assert all(path.is_file() for paths in splits.values() for path in paths)
    assert len(unlabeled_mix(splits, 0.6)) == 28
    train_set = MedADTrainSet(tmp_path / "out", image_size=16, progress=False)
    test_set = MedADTestSet(tmp_path / "out", image_size=16, progress=False)
    assert len(train_set) == 28 and len(test_set) == 16
    # every file written is 8-bit grey at the source's size, with its source in the manifest
    with open(tmp_path / "out" / "manifest.csv") as file:
        manifest = list(csv.DictReader(file))
    assert len(manifest) == 80
    first = manifest[0]
    image = np.asarray(Image.open(tmp_path / "out" / "images" / first["file"]))
    np.testing.assert_array_equal(image, np.asarray(Image.open(first["source"])))


def test_same_seed_same_split_other_seed_other_split(tmp_path):
    write_pngs(tmp_path / "n", 20)
    write_pngs(tmp_path / "a", 10)
    sources = sources_from_folders([tmp_path / "n"], [tmp_path / "a"])
    names = [s.path.name for s in medad_splits(sources, seed=1)["test_normal"]]
    assert names == [s.path.name for s in medad_splits(sources, seed=1)["test_normal"]]
    assert names != [s.path.name for s in medad_splits(sources, seed=2)["test_normal"]]


def test_no_patient_on_both_sides_of_the_train_test_boundary():
    rng = np.random.default_rng(0)
    sources = []
    for patient in range(60):  # 1 to 6 images each, some patients with both labels
        for image in range(rng.integers(1, 7)):
            label = int(rng.random() < (0.8 if patient % 3 == 0 else 0.1))
            sources.append(Source(Path(f"/data/p{patient}_{image}.png"), label, f"patient {patient}"))
    for seed in range(5):
        splits = medad_splits(sources, seed=seed)
        train, test = sides(splits)
        assert train and test and not train & test
        listed = [s.path for split in splits.values() for s in split]
        assert len(listed) == len(set(listed))  # no image in two splits
        # a split may fall short of its target (whole patients), never exceed it
        n_normal = sum(s.label == 0 for s in sources)
        assert 0 < len(splits["test_normal"]) <= round(0.2 * n_normal)


def test_explicit_counts_are_honoured_and_checked():
    sources = [Source(Path(f"/n{i}.png"), 0) for i in range(40)] + [Source(Path(f"/a{i}.png"), 1) for i in range(20)]
    counts = {"train_normal": 10, "unlabeled_normal": 5, "unlabeled_abnormal": 7, "test_normal": 8,
              "test_abnormal": 9}
    splits = medad_splits(sources, counts)
    assert {name: len(splits[name]) for name in MEDAD_SPLITS} == counts
    with pytest.raises(ValueError, match="test_abnormal=21 asked for, but only 20"):
        medad_splits(sources, {"test_abnormal": 21})
    with pytest.raises(ValueError, match="train_normal=40 asked for, but 32 normal images are left"):
        medad_splits(sources, {"train_normal": 40})
    with pytest.raises(ValueError, match="listed more than once"):
        medad_splits(sources + sources[:1])


def test_largest_train_normal_fits_sagans_mix():
    for normal, abnormal, ar in [(40, 24, 0.6), (100, 10, 0.6), (7, 50, 0.6), (30, 30, 0.3)]:
        n = largest_train_normal(normal, abnormal, ar)
        assert int(n * ar) <= abnormal and 2 * n - int(n * ar) <= normal
        bigger = n + 1
        assert int(bigger * ar) > abnormal or 2 * bigger - int(bigger * ar) > normal


def test_csv_with_patients_16_bit_and_dicom_resized_to_8_bit_png(tmp_path):
    rows = [["path", "label", "patient_id"]]
    for index in range(12):
        values = (np.arange(64 * 48, dtype=np.uint16).reshape(64, 48) * (index + 1)) % 4096
        if index % 3 == 0:
            path = write_dicom(tmp_path / f"scan{index}.dcm", values, bits_stored=12)
        else:
            path = tmp_path / f"scan{index}.png"
            Image.fromarray(values).save(path)
        rows.append([path.name, "abnormal" if index >= 8 else "normal", f"P{index // 2}"])
    with open(tmp_path / "list.csv", "w", newline="") as file:
        csv.writer(file).writerows(rows)
    sources = sources_from_csv(tmp_path / "list.csv")
    assert sources[0] == Source(tmp_path / "scan0.dcm", 0, "P0")
    summary = prepare_medad(sources, tmp_path / "out", image_size=(16, 12), progress=False)
    assert "own min-max range" in summary["mapped"]
    for paths in read_medad(tmp_path / "out").values():
        for path in paths:
            with Image.open(path) as image:
                assert image.mode == "L" and image.size == (12, 16)
            assert path.name.split("_")[0] in {f"P{i}" for i in range(6)}  # the patient leads the name


def test_score_per_patient_names_group_a_patients_test_images_by_label():
    sources = [Source(Path(f"/x/{p}_{i}.png"), i % 2, f"pat_{p}") for p in range(10) for i in range(4)]
    splits = medad_splits(sources, seed=0)
    from anomaly_lib.prepare import medad_names

    names = medad_names(splits, score_per_patient=True)
    test = splits["test_normal"] + splits["test_abnormal"]
    ids = [image_id(names[s.path]) for s in test]
    assert set(ids) == {f"pat-{s.patient[4:]}-{('normal', 'abnormal')[s.label]}" for s in test}
    grouped_ids, _, _ = average_by_id(ids, np.arange(len(ids), dtype=float), [s.label for s in test])
    assert len(grouped_ids) == len({(s.patient, s.label) for s in test})
    plain = medad_names(splits)  # default: every image scored alone
    assert len({image_id(name) for name in plain.values()}) == len(sources)


def test_output_folder_is_never_silently_overwritten(tmp_path):
    write_pngs(tmp_path / "n", 10)
    write_pngs(tmp_path / "a", 6)
    sources = sources_from_folders([tmp_path / "n"], [tmp_path / "a"])
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not made by `prepare`"):
        prepare_medad(sources, mine, progress=False)
    assert (mine / "notes.txt").read_text() == "keep me"
    prepare_medad(sources, tmp_path / "out", progress=False)
    with pytest.raises(FileExistsError, match="--overwrite"):
        prepare_medad(sources, tmp_path / "out", progress=False)
    prepare_medad(sources, tmp_path / "out", overwrite=True, seed=3, progress=False)
    assert json.loads((tmp_path / "out" / "prepare.json").read_text())["seed"] == 3
    with pytest.raises(ValueError, match="inside the input folder"):
        prepare_medad(sources, tmp_path / "n" / "out", inputs=[tmp_path / "n"], progress=False)


def test_unreadable_images_are_listed_and_no_data_json_is_written(tmp_path):
    write_pngs(tmp_path / "n", 10)
    write_pngs(tmp_path / "a", 6)
    (tmp_path / "n" / "broken.png").write_text("not an image")
    sources = sources_from_folders([tmp_path / "n"], [tmp_path / "a"])
    with pytest.raises(ImageLoadError) as error:
        prepare_medad(sources, tmp_path / "out", counts={"test_normal": 11, "train_normal": 0}, progress=False)
    assert error.value.bad_paths == [tmp_path / "n" / "broken.png"]
    assert not (tmp_path / "out" / "data.json").exists()


def test_command_line_medad(tmp_path, capsys):
    write_pngs(tmp_path / "n", 30)
    write_pngs(tmp_path / "a", 15)
    status = main(["prepare", "medad", "--normal", str(tmp_path / "n"), "--abnormal", str(tmp_path / "a"),
                   "--out", str(tmp_path / "out"), "--image-size", "8", "--test-normal", "5", "--seed", "4"])
    printed = capsys.readouterr().out
    assert status == 0 and "test_normal" in printed and "5 images" in printed
    assert len(read_medad(tmp_path / "out")["test_normal"]) == 5

    (tmp_path / "bad.csv").write_text("path,label\nx.png,sick\n")
    status = main(["prepare", "medad", "--csv", str(tmp_path / "bad.csv"), "--out", str(tmp_path / "o2")])
    assert status == 2
    assert "bad.csv line 2: label must be 0, 1, normal or abnormal; got 'sick'" in capsys.readouterr().err
    status = main(["prepare", "medad", "--csv", str(tmp_path / "bad.csv"), "--abnormal", str(tmp_path / "a"),
                   "--out", str(tmp_path / "o3")])
    assert status == 2 and "go with --normal, not --csv" in capsys.readouterr().err
    status = main(["prepare", "medad", "--normal", str(tmp_path / "n"), "--abnormal", str(tmp_path / "a"),
                   "--out", str(tmp_path / "o4"), "--test-fraction", "1.5"])
    assert status == 2 and "test_fraction must lie in [0, 1)" in capsys.readouterr().err


# ---------------------------------------------------------------------------- DBT

HEIGHT, WIDTH, SLICES = 40, 30, 5
WINDOW = (1500, 3000)  # the window's lower end (0) lies below the background (100)


def oriented_volume(breast_on_right: bool, lesion=None) -> np.ndarray:
    """(slices, H, W) raw values: background 100, breast 2000 + 50 * slice against one edge.

    ``lesion`` = (slice, x, y, width, height): a block of 3500 on that slice.
    """
    y, x = np.mgrid[:HEIGHT, :WIDTH]
    edge = WIDTH - 1 if breast_on_right else 0
    breast = ((x - edge) / (0.8 * WIDTH)) ** 2 + ((y - HEIGHT / 2) / (0.45 * HEIGHT)) ** 2 < 1
    volume = np.full((SLICES, HEIGHT, WIDTH), 100, np.uint16)
    for index in range(SLICES):
        volume[index][breast] = 2000 + 50 * index
    if lesion:
        index, left, top, width, height = lesion
        volume[index, top:top + height, left:left + width] = 3500
    return volume


def expected_slice(raw: np.ndarray) -> np.ndarray:
    """The 8-bit slice written: LINEAR window (PS3.3 C.11.2.1.2.1) to 0..255, minus its minimum."""
    center, width = WINDOW[0] - 0.5, WINDOW[1] - 1
    values = raw.astype(np.float64)
    out = ((values - center) / width + 0.5) * 255
    out[values <= center - width / 2] = 0
    out[values > center + width / 2] = 255
    out = np.rint(out).astype(np.uint8)
    return out - out.min()


def make_collection(root: Path) -> dict:
    """A tiny tree shaped like the collection: DICOM volumes, file-path, label and box CSVs."""
    paths, labels, boxes, volumes = [], [], [], {}

    def add_view(patient, view, label, volume, present=True):
        study = f"DBT-S{patient[-3:]}"
        relative = f"Breast-Cancer-Screening-DBT/{patient}/01-01-2000-{study}-MAMMO/1.000000-{view}/1-1.dcm"
        if present:
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            write_dbt_volume(root / relative, volume, window=WINDOW)
        paths.append([patient, study, view, relative, f"Breast-Cancer-Screening-DBT/{patient}/uid/uid/1-1.dcm"])
        labels.append([patient, study, view] + [str(int(label == name)) for name in
                                                 ("Normal", "Actionable", "Benign", "Cancer")])
        volumes[(patient, view)] = volume

    # P001: cancer in the right CC view, stored with the breast on the wrong (left) side
    box = (3, 18, 12, 6, 5)  # slice, x, y, width, height in the boxes' orientation
    add_view("DBT-P001", "rcc", "Cancer", oriented_volume(True, box)[:, ::-1, ::-1])
    boxes.append(["DBT-P001", "DBT-S001", "rcc", "1", "3", "18", "12", "6", "5", "cancer", "0", "5"])
    add_view("DBT-P001", "lcc", "Normal", oriented_volume(False))
    # P002: benign, two boxes on slice 1 of the left MLO view, stored as the boxes expect
    volume = oriented_volume(False, (1, 2, 5, 4, 4))
    volume[1, 25:29, 6:10] = 3500
    add_view("DBT-P002", "lmlo", "Benign", volume)
    boxes.append(["DBT-P002", "DBT-S002", "lmlo", "1", "1", "2", "5", "4", "4", "benign", "0", "5"])
    boxes.append(["DBT-P002", "DBT-S002", "lmlo", "2", "1", "6", "25", "4", "4", "benign", "1", "5"])
    # P003-P012: normal views; one view of P012 is not in the download; an actionable view
    for number in range(3, 13):
        patient = f"DBT-P{number:03d}"
        add_view(patient, "rcc", "Normal", oriented_volume(number % 2 == 0)[:, ::-1, ::-1]
                 if number % 2 == 0 else oriented_volume(True))
        add_view(patient, "lmlo", "Normal", oriented_volume(False), present=number != 12)
    add_view("DBT-P004", "lcc", "Actionable", oriented_volume(False))

    for name, header, rows in [
        ("BCS-DBT-file-paths-train-v2.csv", ["PatientID", "StudyUID", "View", "descriptive_path", "classic_path"],
         paths),
        ("BCS-DBT-labels-train-v2.csv", ["PatientID", "StudyUID", "View", "Normal", "Actionable", "Benign",
                                         "Cancer"], labels),
        ("BCS-DBT-boxes-train-v2.csv", ["PatientID", "StudyUID", "View", "Subject", "Slice", "X", "Y", "Width",
                                        "Height", "Class", "AD", "VolumeSlices"], boxes),
    ]:
        with open(root / name, "w", newline="") as file:
            csv.writer(file).writerows([header, *rows])
    return volumes


def test_dbt_from_a_collection_shaped_tree(tmp_path):
    volumes = make_collection(tmp_path / "download")
    summary = prepare_dbt(tmp_path / "download", tmp_path / "dbt", val_fraction=0.3, progress=False)
    assert summary["missing_views"] == 1  # P012's lmlo is not in the download
    assert summary["mapped"] == "DICOM window centre/width (22)"
    splits = read_dbt(tmp_path / "dbt")
    # 20 normal views in the download (P001 lcc, 10 rcc, 9 lmlo), 2 lesion slices
    assert len(splits["train_normal"]) + len(splits["test_normal"]) == 20 and len(splits["test_abnormal"]) == 2

    patient = {path: path.name.split("_")[0] for paths in splits.values() for path in paths}
    train = {patient[path] for path in splits["train_normal"]}
    test = {patient[path] for path in splits["test_normal"] + splits["test_abnormal"]}
    assert not train & test and {"DBT-P001", "DBT-P002"} <= test
    assert len(test - {"DBT-P001", "DBT-P002"}) == 3  # 30 % of the 10 patients without lesions

    for paths in splits.values():  # background exactly 0, every image
        for path in paths:
            image = np.asarray(Image.open(path))
            assert image[0, 0] == 0 == image.min() and image.max() > 0

    # normal views: the middle slice, turned so the breast lies on its view's side
    rcc_normal = tmp_path / "dbt" / "images-normal-unique"
    rcc = next(rcc_normal.glob("*/DBT-P004_DBT-S004_rcc_s002.png"))
    np.testing.assert_array_equal(np.asarray(Image.open(rcc)), expected_slice(oriented_volume(True)[2]))

    # the lesion slice of the flipped cancer view, exactly, with its box over the lesion
    boxes = json.loads((tmp_path / "dbt" / "boxes.json").read_text())["images"]
    name = "images-tumor-full/val/DBT-P001_DBT-S001_rcc_s003.png"
    image = np.asarray(Image.open(tmp_path / "dbt" / name))
    raw = volumes[("DBT-P001", "rcc")][3, ::-1, ::-1]
    np.testing.assert_array_equal(image, expected_slice(raw))
    (box,) = boxes[name]["boxes"]
    assert (box["x"], box["y"], box["width"], box["height"], box["class"]) == (18, 12, 6, 5, "cancer")
    inside = image[12:17, 18:24]
    assert (inside == image.max()).all() and (image == image.max()).sum() == inside.size
    # the benign view: both boxes of slice 1 on one image
    assert len(boxes["images-tumor-full/val/DBT-P002_DBT-S002_lmlo_s001.png"]["boxes"]) == 2
    with open(tmp_path / "dbt" / "manifest.csv") as file:
        flipped = {row["file"]: row["flipped"] for row in csv.DictReader(file)}
    assert flipped[name] == "True" and flipped[rcc.relative_to(tmp_path / "dbt").as_posix()] == "True"

    # SWSSL reads the result as its DBT layout
    assert len(read_images(tmp_path / "dbt", "dbt", "test", image_size=(16, 12), progress=False)) == 9


def test_dbt_resized_boxes_and_several_slices_per_view(tmp_path):
    make_collection(tmp_path / "download")
    prepare_dbt(tmp_path / "download", tmp_path / "dbt", slices_per_view=3, image_size=(20, 15),
                progress=False)
    normal = sorted(path.name for path in (tmp_path / "dbt" / "images-normal-unique").rglob("*.png"))
    assert [name[-8:] for name in normal if name.startswith("DBT-P003_DBT-S003_rcc")] == \
        ["s001.png", "s002.png", "s003.png"]  # spread over the middle half of 5 slices
    entry = json.loads((tmp_path / "dbt" / "boxes.json").read_text())["images"][
        "images-tumor-full/val/DBT-P001_DBT-S001_rcc_s003.png"]
    assert (entry["height"], entry["width"]) == (20, 15)
    assert [entry["boxes"][0][key] for key in ("x", "y", "width", "height")] == [9, 6, 3, 2.5]


def test_dbt_command_line_and_its_errors(tmp_path, capsys):
    make_collection(tmp_path / "download")
    status = main(["prepare", "dbt", "--source", str(tmp_path / "download"), "--out", str(tmp_path / "dbt")])
    printed = capsys.readouterr().out
    assert status == 0 and "images-tumor-full/val" in printed and "skipped 1 views" in printed
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    status = main(["prepare", "dbt", "--source", str(tmp_path / "download"), "--out", str(tmp_path / "x"),
                   "--tables", str(tmp_path / "other.csv")])
    assert status == 2 and "other.csv is not a file-path, label or box table" in capsys.readouterr().err
