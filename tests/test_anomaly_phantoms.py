import json

import cv2
import numpy as np
import pytest

from anomaly_lib.__main__ import main
from anomaly_lib.layouts import read_chest, read_dbt, read_medad
from anomaly_lib.phantoms import (
    breast_phantom,
    chest_phantom,
    draw_breast,
    draw_chest,
    make_phantom_dataset,
)

SMALL_MEDAD = {
    "train_normal": 4,
    "unlabeled_normal": 2,
    "unlabeled_abnormal": 3,
    "test_normal": 2,
    "test_abnormal": 2,
}
SMALL_FOLDERS = {"train_normal": 3, "test_normal": 2, "test_abnormal": 2}


def all_file_bytes(root):
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize("size", [32, 64, (80, 56), 256])
@pytest.mark.parametrize("phantom", [chest_phantom, breast_phantom])
def test_phantom_shapes_and_types(phantom, size):
    image, mask = phantom(np.random.default_rng(0), size, abnormal=True)
    expected = (size, size) if isinstance(size, int) else size
    assert image.shape == expected and image.dtype == np.uint8
    assert mask.shape == expected and mask.dtype == bool
    assert image.std() > 10  # not a blank image


@pytest.mark.parametrize("draw", [draw_chest, draw_breast])
def test_normal_phantoms_have_empty_masks(draw):
    for index in range(10):
        phantom = draw(np.random.default_rng(index), 64, abnormal=False)
        assert not phantom.lesion_mask.any()
        assert phantom.organ_mask.sum() > 0.1 * 64 * 64


@pytest.mark.parametrize("draw", [draw_chest, draw_breast])
def test_lesions_are_inside_the_organ_and_brighter_than_it(draw):
    for index in range(20):
        phantom = draw(np.random.default_rng(index), 64, abnormal=True)
        lesion, organ = phantom.lesion_mask, phantom.organ_mask
        assert lesion.sum() >= 9  # at least a 3x3 patch at 64x64
        assert lesion.sum() < 0.5 * organ.sum()  # local, not the whole organ
        assert not (lesion & ~organ).any()  # inside the lungs / breast
        image = phantom.image.astype(float)
        assert image[lesion].mean() > image[organ & ~lesion].mean() + 15


def test_chest_lungs_are_darker_than_the_body_around_them():
    phantom = draw_chest(np.random.default_rng(3), 128, abnormal=False)
    lungs = phantom.organ_mask
    around = cv2.dilate(lungs.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool) & ~lungs
    assert phantom.image[lungs].mean() < phantom.image[around].mean() - 20


def test_normal_images_vary():
    first = draw_chest(np.random.default_rng(1), 64, abnormal=False).image
    second = draw_chest(np.random.default_rng(2), 64, abnormal=False).image
    assert np.abs(first.astype(int) - second.astype(int)).mean() > 3


def test_medad_dataset_is_readable_and_has_masks(tmp_path):
    root = make_phantom_dataset(tmp_path / "medad", "medad", image_size=32, counts=SMALL_MEDAD)
    splits = read_medad(root)
    assert {split: len(paths) for split, paths in splits.items()} == SMALL_MEDAD
    assert splits["test_abnormal"][1].name == "test_abnormal_0001.png"
    assert all(path.is_file() for paths in splits.values() for path in paths)

    mask_names = sorted(path.name for path in (root / "masks").iterdir())
    abnormal_names = sorted(
        path.name for split in ("unlabeled_abnormal", "test_abnormal") for path in splits[split]
    )
    assert mask_names == abnormal_names
    mask = cv2.imread(str(root / "masks" / mask_names[0]), cv2.IMREAD_GRAYSCALE)
    assert set(np.unique(mask)) == {0, 255}


def test_chest_and_dbt_datasets_are_readable(tmp_path):
    chest = read_chest(make_phantom_dataset(tmp_path / "chest", "chest", 32, SMALL_FOLDERS))
    assert {split: len(paths) for split, paths in chest.items()} == SMALL_FOLDERS
    assert chest["test_abnormal"][0].parent == tmp_path / "chest" / "test" / "1.abnormal"

    dbt_root = make_phantom_dataset(tmp_path / "dbt", "dbt", (48, 36), SMALL_FOLDERS)
    dbt = read_dbt(dbt_root)
    assert {split: len(paths) for split, paths in dbt.items()} == SMALL_FOLDERS
    image = cv2.imread(str(dbt["test_normal"][0]), cv2.IMREAD_GRAYSCALE)
    assert image.shape == (48, 36)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    first = make_phantom_dataset(tmp_path / "a", "chest", 32, SMALL_FOLDERS, seed=5)
    again = make_phantom_dataset(tmp_path / "b", "chest", 32, SMALL_FOLDERS, seed=5)
    other = make_phantom_dataset(tmp_path / "c", "chest", 32, SMALL_FOLDERS, seed=6)
    assert all_file_bytes(first) == all_file_bytes(again)
    first_images = {
        name: data for name, data in all_file_bytes(first).items() if name.endswith(".png")
    }
    other_images = {
        name: data for name, data in all_file_bytes(other).items() if name.endswith(".png")
    }
    assert first_images.keys() == other_images.keys()
    assert all(first_images[name] != other_images[name] for name in first_images)


def test_an_image_does_not_depend_on_the_other_counts(tmp_path):
    small = make_phantom_dataset(tmp_path / "small", "chest", 32, SMALL_FOLDERS)
    large = make_phantom_dataset(
        tmp_path / "large", "chest", 32, {**SMALL_FOLDERS, "train_normal": 9}
    )
    name = "test/1.abnormal/test_abnormal_0001.png"
    assert (small / name).read_bytes() == (large / name).read_bytes()


def test_two_hundred_images_at_64(tmp_path):
    counts = {
        "train_normal": 80,
        "unlabeled_normal": 20,
        "unlabeled_abnormal": 40,
        "test_normal": 30,
        "test_abnormal": 30,
    }
    root = make_phantom_dataset(tmp_path / "medad", image_size=64, counts=counts)
    assert len(list((root / "images").glob("*.png"))) == 200


def test_rewrites_its_own_folder_but_refuses_foreign_ones(tmp_path):
    root = make_phantom_dataset(
        tmp_path / "data", "chest", 32, {**SMALL_FOLDERS, "train_normal": 5}
    )
    make_phantom_dataset(root, "chest", 32, SMALL_FOLDERS)  # fewer images: stale ones must go
    assert len(read_chest(root)["train_normal"]) == 3
    settings = json.loads((root / "phantom_dataset.json").read_text())
    assert settings["counts"]["train_normal"] == 3

    foreign = tmp_path / "my_photos"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        make_phantom_dataset(foreign, "chest", 32, SMALL_FOLDERS)
    assert (foreign / "holiday.jpg").read_bytes() == b"precious"


def test_unknown_layout_or_count_key_is_named(tmp_path):
    with pytest.raises(ValueError, match="unknown layout 'voc'"):
        make_phantom_dataset(tmp_path / "x", layout="voc")
    with pytest.raises(ValueError, match=r"unknown count key\(s\) \['unlabeled_normal'\]"):
        make_phantom_dataset(tmp_path / "x", layout="chest", counts={"unlabeled_normal": 3})
    with pytest.raises(ValueError, match="must be >= 1"):
        make_phantom_dataset(tmp_path / "x", layout="dbt", counts={"test_normal": 0})


def test_cli_writes_and_reports(tmp_path, capsys):
    out = tmp_path / "cli"
    argv = ["phantoms", "--layout", "dbt", "--out", str(out), "--image-size", "40x32"]
    argv += ["--count", "train_normal=3", "--count", "test_normal=2", "--count", "test_abnormal=1"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "wrote a dbt phantom dataset" in printed
    assert "train_normal" in printed and "3 images" in printed
    image_path = read_dbt(out)["test_abnormal"][0]
    assert cv2.imread(str(image_path), cv2.IMREAD_GRAYSCALE).shape == (40, 32)


def test_cli_rejects_bad_arguments(tmp_path, capsys):
    assert main(["phantoms", "--out", str(tmp_path / "x"), "--count", "nonsense=4"]) == 2
    assert "nonsense" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["phantoms", "--out", str(tmp_path / "x"), "--image-size", "64x"])


@pytest.mark.parametrize("draw", [draw_chest, draw_breast])
def test_lesion_scale_makes_lesions_larger(draw):
    areas = {}
    for scale in (1.0, 1.6):
        areas[scale] = sum(int(draw(np.random.default_rng([9, i]), 64, True, lesion_scale=scale).lesion_mask.sum())
                           for i in range(12))
    assert areas[1.6] > 1.5 * areas[1.0]


def lesion_contrast(phantom):
    """Mean brightness of the lesion minus that of the lung ring just around it."""
    ring = cv2.dilate(phantom.lesion_mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    ring &= ~phantom.lesion_mask & phantom.organ_mask
    image = phantom.image.astype(float)
    return image[phantom.lesion_mask].mean() - image[ring].mean()


def test_subtle_lesions_are_smaller_and_fainter_than_easy_ones():
    def summary(difficulty):
        phantoms = [draw_chest(np.random.default_rng(i), 64, True, difficulty=difficulty) for i in range(30)]
        return (np.median([p.lesion_mask.sum() for p in phantoms]),
                np.median([lesion_contrast(p) for p in phantoms]))

    (easy_area, easy_contrast), (subtle_area, subtle_contrast) = summary("easy"), summary("subtle")
    assert subtle_area < 0.6 * easy_area
    assert 0 < subtle_contrast < 0.5 * easy_contrast


def test_subtle_normals_escape_a_linear_model():
    # the share of pixel variance that 8 principal components leave unexplained, on 60 normals
    def unexplained(difficulty):
        images = np.stack([draw_chest(np.random.default_rng(i), 64, False, difficulty=difficulty).image
                           for i in range(60)]).reshape(60, -1).astype(float)
        centred = images - images.mean(0)
        variances = np.linalg.svd(centred, compute_uv=False) ** 2
        return variances[8:].sum() / variances.sum()

    assert unexplained("subtle") > 1.2 * unexplained("easy")


def test_difficulty_is_recorded_and_checked(tmp_path, capsys):
    root = make_phantom_dataset(tmp_path / "subtle", "medad", 32, SMALL_MEDAD, difficulty="subtle")
    assert json.loads((root / "phantom_dataset.json").read_text())["difficulty"] == "subtle"
    easy = make_phantom_dataset(tmp_path / "easy", "medad", 32, SMALL_MEDAD)
    name = "test_abnormal_0000.png"
    assert (root / "images" / name).read_bytes() != (easy / "images" / name).read_bytes()
    with pytest.raises(ValueError, match="chest phantoms only"):
        make_phantom_dataset(tmp_path / "dbt", "dbt", 32, difficulty="subtle")
    with pytest.raises(ValueError, match="unknown difficulty 'hard'"):
        make_phantom_dataset(tmp_path / "hard", "medad", 32, SMALL_MEDAD, difficulty="hard")
    code = main(["phantoms", "--out", str(tmp_path / "cli"), "--image-size", "32", "--difficulty", "subtle",
                 *[f"--count={key}={n}" for key, n in SMALL_MEDAD.items()]])
    assert code == 0
    assert json.loads((tmp_path / "cli" / "phantom_dataset.json").read_text())["difficulty"] == "subtle"
