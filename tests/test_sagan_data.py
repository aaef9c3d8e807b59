"""SAGAN's Med-AD datasets and synthetic anomalies, on phantom folders."""

import json
import shutil

import numpy as np
import pytest
import torch

from anomaly_lib.phantoms import make_phantom_dataset
from sagan_lib.data import MedADTestSet, MedADTrainSet, image_id, unlabeled_mix
from sagan_lib.scoring import average_by_id
from sagan_lib.synthetic_anomaly import paste_anomalies, pick_sources

COUNTS = {"train_normal": 10, "unlabeled_normal": 5, "unlabeled_abnormal": 7, "test_normal": 4, "test_abnormal": 4}


@pytest.fixture(scope="module")
def medad_root(tmp_path_factory):
    return make_phantom_dataset(tmp_path_factory.mktemp("medad") / "data", "medad", 32, COUNTS, seed=3)


def copy_of(root, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(root, target)
    return target


def test_train_set_items_and_unlabeled_mix(medad_root):
    train_set = MedADTrainSet(medad_root, image_size=32, progress=False)
    assert len(train_set) == 10
    unlabeled, normal, anomaly, mask = train_set[3]
    for tensor in (unlabeled, normal, anomaly, mask):
        assert tensor.shape == (1, 32, 32)
    assert normal.min() >= -1 and normal.max() <= 1 and normal.min() < 0 < normal.max()
    # int(10 · 0.6) = 6 abnormal first, then 4 normal; item i pairs unlabeled i with normal i.
    names = [path.name for path in train_set.unlabeled_paths]
    assert names == [f"unlabeled_abnormal_{i:04d}.png" for i in range(6)] + \
                    [f"unlabeled_normal_{i:04d}.png" for i in range(4)]
    assert train_set.normal_paths[3].name == "train_normal_0003.png"


def test_images_are_resized_and_scaled_like_the_authors(medad_root):
    from PIL import Image

    train_set = MedADTrainSet(medad_root, image_size=16, progress=False)
    with Image.open(train_set.normal_paths[0]) as image:
        resized = np.asarray(image.convert("L").resize((16, 16), Image.BILINEAR))
    expected = torch.tensor(resized, dtype=torch.float32).reshape(1, 16, 16) / 255 * 2 - 1
    torch.testing.assert_close(train_set[0][1], expected)


def test_synthetic_anomaly_geometry_and_blend():
    torch.manual_seed(0)
    images = torch.rand(200, 1, 64, 64) * 2 - 1
    sources = torch.rand(200, 1, 64, 64) * 2 - 1
    anomalies, masks = paste_anomalies(images, sources, core_percent=0.6)
    for image, source, anomaly, mask in zip(images, sources, anomalies, masks):
        rows = mask[0].any(dim=1).nonzero().flatten()
        cols = mask[0].any(dim=0).nonzero().flatten()
        height, width = len(rows), len(cols)
        # a solid square box: contiguous rows and columns, filled
        assert rows[-1] - rows[0] + 1 == height and cols[-1] - cols[0] + 1 == width
        assert int(mask.sum()) == height * width
        # side = 2 · half-width with half-width in [round(0.05·64), round(0.2·64)) = [3, 13)
        assert height == width and height % 2 == 0 and 6 <= height <= 24
        centre_row = int(rows[0]) + height // 2
        assert 12 <= centre_row < 51  # inside the central 60 %
        # outside the box nothing changes; inside, one alpha blends image and source
        assert torch.equal(anomaly[~mask], image[~mask])
        inside = mask[0]
        alpha = (anomaly[0][inside] - image[0][inside]) / (source[0][inside] - image[0][inside])
        assert 0 < alpha.mean() < 1
        torch.testing.assert_close(alpha, torch.full_like(alpha, float(alpha.mean())), atol=1e-3, rtol=0)


def test_boxes_near_the_border_are_clipped():
    generator = torch.Generator().manual_seed(0)
    images = torch.zeros(300, 1, 64, 64)
    _, masks = paste_anomalies(images, torch.ones_like(images), core_percent=1.0, generator=generator)
    heights = masks[:, 0].any(dim=2).sum(dim=1)
    widths = masks[:, 0].any(dim=1).sum(dim=1)
    assert (heights > 0).all()
    # an unclipped box is square; only clipping at an edge makes it a rectangle
    assert (heights != widths).any()
    assert masks[:, 0, 0, :].any() and masks[:, 0, :, 0].any()


def test_source_image_is_never_the_same_index():
    generator = torch.Generator().manual_seed(1)
    indices = torch.arange(5).repeat(400)
    sources = pick_sources(indices, 5, generator)
    assert not (sources == indices).any()
    assert set(sources.tolist()) == set(range(5))
    with pytest.raises(ValueError, match="at least 2"):
        pick_sources(torch.tensor([0]), 1)


def test_dataset_anomaly_uses_a_different_normal(medad_root):
    train_set = MedADTrainSet(medad_root, image_size=32, progress=False)
    torch.manual_seed(5)
    for i in range(len(train_set)):
        _, normal, anomaly, mask = train_set[i]
        assert mask.dtype == torch.long and mask.sum() > 0
        assert not torch.equal(anomaly, normal) or bool((train_set.normals[i] == 0).all())


def test_batched_anomalies_on_the_device(medad_root):
    train_set = MedADTrainSet(medad_root, image_size=32, progress=False)
    unlabeled, normal, anomaly, mask = train_set.batch(torch.tensor([0, 1, 2, 3]), "cpu")
    assert unlabeled.shape == normal.shape == anomaly.shape == mask.shape == (4, 1, 32, 32)
    assert mask.dtype == torch.bool and (mask.flatten(1).sum(1) > 0).all()


def test_test_set_and_id_averaging(medad_root):
    test_set = MedADTestSet(medad_root, image_size=32, progress=False)
    assert len(test_set) == 8
    image, name, label = test_set[5]
    assert image.shape == (1, 32, 32) and name == "test_abnormal_0001" and label == 1
    assert image_id("study7__slice12.png") == "study7"
    ids, scores, labels = average_by_id(["a", "b", "a"], [0.1, 0.5, 0.3], [1, 0, 1])
    assert ids == ["a", "b"] and scores.tolist() == pytest.approx([0.2, 0.5]) and labels.tolist() == [1, 0]
    with pytest.raises(ValueError, match="different labels"):
        average_by_id(["a", "a"], [0.1, 0.2], [0, 1])


def test_missing_data_json_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="data.json"):
        MedADTrainSet(tmp_path, progress=False)


def test_missing_key_is_named(medad_root, tmp_path):
    root = copy_of(medad_root, tmp_path)
    data = json.loads((root / "data.json").read_text())
    del data["train"]["unlabeled"]["1"]
    (root / "data.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="train/unlabeled/1"):
        MedADTrainSet(root, progress=False)


def test_missing_images_are_listed_with_a_count(medad_root, tmp_path):
    root = copy_of(medad_root, tmp_path)
    for i in range(3):
        (root / "images" / f"train_normal_000{i}.png").unlink()
    with pytest.raises(OSError, match="3 of 10 images") as error:
        MedADTrainSet(root, progress=False)
    assert "train_normal_0000.png" in str(error.value)


def test_too_few_unlabeled_images_gives_the_numbers(medad_root):
    with pytest.raises(ValueError, match="needs 9 unlabeled abnormal .* lists 7 under train/unlabeled/1"):
        unlabeled_mix({"train_normal": [0] * 10, "unlabeled_abnormal": [0] * 7, "unlabeled_normal": [0] * 5}, 0.9)


def test_split_with_zero_images_is_named(medad_root, tmp_path):
    root = copy_of(medad_root, tmp_path)
    data = json.loads((root / "data.json").read_text())
    data["test"]["1"] = []
    (root / "data.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="split test/1 lists no images"):
        MedADTestSet(root, progress=False)
