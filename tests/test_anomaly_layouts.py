import json

import pytest

from anomaly_lib.layouts import read_chest, read_dbt, read_layout, read_medad, write_medad_json

MEDAD_LISTS = {
    "train_normal": ["n1.png", "n2.png"],
    "unlabeled_normal": ["u0.png"],
    "unlabeled_abnormal": ["u1.png"],
    "test_normal": ["t0.png"],
    "test_abnormal": ["t1.png", "t2.png"],
}


def touch_images(folder, names):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"not decoded by the readers")


# ---------------------------------------------------------------------------- Med-AD


def test_medad_round_trip(tmp_path):
    json_path = write_medad_json(tmp_path, MEDAD_LISTS)
    data = json.loads(json_path.read_text())
    assert data["train"]["unlabeled"]["1"] == ["u1.png"]
    assert data["test"]["0"] == ["t0.png"]

    splits = read_medad(tmp_path)
    assert set(splits) == set(MEDAD_LISTS)
    assert splits["test_abnormal"] == [
        tmp_path / "images" / "t1.png",
        tmp_path / "images" / "t2.png",
    ]


def test_medad_missing_json_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "data.json")):
        read_medad(tmp_path)


def test_medad_invalid_json(tmp_path):
    (tmp_path / "data.json").write_text("{not json")
    with pytest.raises(ValueError, match="is not valid JSON"):
        read_medad(tmp_path)


def test_medad_missing_key_is_named_by_its_path(tmp_path):
    write_medad_json(tmp_path, MEDAD_LISTS)
    data = json.loads((tmp_path / "data.json").read_text())
    del data["train"]["unlabeled"]["1"]
    (tmp_path / "data.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="data.json is missing key train/unlabeled/1"):
        read_medad(tmp_path)

    del data["test"]
    (tmp_path / "data.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="data.json is missing key train/unlabeled/1"):
        read_medad(tmp_path)  # splits are checked in a fixed order; unlabeled/1 comes before test


def test_medad_value_must_be_list_of_strings(tmp_path):
    write_medad_json(tmp_path, {**MEDAD_LISTS, "test_normal": ["a.png"]})
    data = json.loads((tmp_path / "data.json").read_text())
    data["test"]["0"] = ["a.png", 3]
    (tmp_path / "data.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"test/0 must list file names \(strings\); found \[3\]"):
        read_medad(tmp_path)

    data["test"]["0"] = "a.png"
    (tmp_path / "data.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="test/0 must be a list of file names; got str"):
        read_medad(tmp_path)


def test_write_medad_json_rejects_unknown_split(tmp_path):
    with pytest.raises(ValueError, match="unknown: \\['validation'\\]"):
        write_medad_json(tmp_path, {**MEDAD_LISTS, "validation": []})


# ---------------------------------------------------------------------------- chest


def test_chest_reads_sorted_images_of_any_case_and_skips_other_files(tmp_path):
    touch_images(tmp_path / "train" / "0.normal", ["b.png", "a.JPEG", "notes.txt"])
    touch_images(tmp_path / "test" / "0.normal", ["c.bmp"])
    touch_images(tmp_path / "test" / "1.abnormal", ["d.tif", "e.PNG"])
    splits = read_chest(tmp_path)
    assert set(splits) == {"train_normal", "test_normal", "test_abnormal"}
    assert [path.name for path in splits["train_normal"]] == ["a.JPEG", "b.png"]
    assert [path.name for path in splits["test_abnormal"]] == ["d.tif", "e.PNG"]


def test_chest_accepts_public_release_names_and_reports_train_abnormal(tmp_path):
    touch_images(tmp_path / "train" / "NORMAL", ["n.jpeg"])
    touch_images(tmp_path / "train" / "PNEUMONIA", ["p.jpeg"])
    touch_images(tmp_path / "test" / "NORMAL", ["n.jpeg"])
    touch_images(tmp_path / "test" / "PNEUMONIA", ["p1.jpeg", "p2.jpeg"])
    splits = read_layout(tmp_path, "chest")
    assert len(splits["test_abnormal"]) == 2
    assert splits["train_abnormal"] == [tmp_path / "train" / "PNEUMONIA" / "p.jpeg"]


def test_chest_missing_folder_names_it_and_lists_what_exists(tmp_path):
    touch_images(tmp_path / "train" / "0.normal", ["a.png"])
    touch_images(tmp_path / "test" / "0.normal", ["b.png"])
    (tmp_path / "test" / "abnormal").mkdir()  # a typo
    with pytest.raises(FileNotFoundError) as error:
        read_chest(tmp_path)
    message = str(error.value)
    assert str(tmp_path / "test" / "1.abnormal") in message
    assert "PNEUMONIA" in message
    assert "test/abnormal/" in message and "train/0.normal/" in message


def test_chest_empty_folder_is_named(tmp_path):
    touch_images(tmp_path / "train" / "0.normal", ["a.png"])
    touch_images(tmp_path / "test" / "0.normal", ["b.png"])
    touch_images(tmp_path / "test" / "1.abnormal", ["readme.txt"])
    with pytest.raises(ValueError, match=f"{tmp_path / 'test' / '1.abnormal'} contains no images"):
        read_chest(tmp_path)


def test_chest_both_folder_names_at_once_is_an_error(tmp_path):
    for folder in ("train/0.normal", "test/0.normal", "test/1.abnormal", "test/PNEUMONIA"):
        touch_images(tmp_path / folder, ["a.png"])
    with pytest.raises(ValueError, match="keep only one"):
        read_chest(tmp_path)


# ---------------------------------------------------------------------------- DBT


def test_dbt_reads_three_splits(tmp_path):
    touch_images(tmp_path / "images-normal-unique" / "train", ["1.png", "2.png"])
    touch_images(tmp_path / "images-normal-unique" / "val", ["3.png"])
    touch_images(tmp_path / "images-tumor-full" / "val", ["4.png"])
    splits = read_dbt(tmp_path)
    assert {split: len(paths) for split, paths in splits.items()} == {
        "train_normal": 2,
        "test_normal": 1,
        "test_abnormal": 1,
    }


def test_dbt_missing_root_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_dbt(tmp_path / "nowhere")


def test_read_layout_rejects_unknown_layout(tmp_path):
    with pytest.raises(ValueError, match="unknown layout 'mnist'"):
        read_layout(tmp_path, "mnist")
