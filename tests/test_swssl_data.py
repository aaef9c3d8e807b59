"""Chest and DBT datasets on phantoms: layouts, both modes, both normalisations, bad inputs."""

import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from anomaly_lib.phantoms import make_phantom_dataset
from swssl_lib.augment import CHEST, DBT, augmentation, get_recipe, invert, to_model_input
from swssl_lib.data import ChestDataset, DBTDataset, SWSSLDataset, read_images
from swssl_lib.sampling import similarity_table

COUNTS = {"train_normal": 4, "test_normal": 3, "test_abnormal": 2}


@pytest.fixture(scope="module")
def chest_root(tmp_path_factory):
    return make_phantom_dataset(tmp_path_factory.mktemp("chest"), layout="chest", image_size=64,
                                counts=COUNTS, seed=0)


@pytest.fixture(scope="module")
def dbt_root(tmp_path_factory):
    return make_phantom_dataset(tmp_path_factory.mktemp("dbt"), layout="dbt", image_size=(64, 48),
                                counts=COUNTS, seed=0)


def test_chest_full_mode(chest_root):
    train = ChestDataset(chest_root, "train", image_size=64, progress=False)
    test = ChestDataset(chest_root, "test", image_size=64, progress=False)
    assert len(train) == 4 and len(test) == 5
    assert test.images.labels == [0, 0, 0, 1, 1]  # normal first, then abnormal (as the authors)
    image, label = test[4]
    assert image.shape == (3, 64, 64) and image.dtype == torch.float32 and label == 1
    assert torch.equal(image[0], image[2])  # grey repeated over RGB
    assert image.min() < 0 <= image.max() <= 1  # default: normalised to [-1, 1] like the views
    pixels = torch.from_numpy(np.array(Image.open(test.images.paths[4]).convert("L")))
    torch.testing.assert_close(image[0], pixels.float() / 127.5 - 1)


def test_reference_normalization_keeps_full_images_in_unit_range(chest_root):
    test = ChestDataset(chest_root, "test", image_size=64, normalization="reference", progress=False)
    image, _ = test[0]
    assert 0 <= image.min() and image.max() <= 1
    torch.testing.assert_close(image[0], test.images.pixels[0].float() / 255)


def test_public_release_folder_names(chest_root, tmp_path):
    root = tmp_path / "chest_xray"
    shutil.copytree(chest_root, root)
    for old, new in [("train/0.normal", "train/NORMAL"), ("test/0.normal", "test/NORMAL"),
                     ("test/1.abnormal", "test/PNEUMONIA")]:
        (root / old).rename(root / new)
    test = ChestDataset(root, "test", image_size=64, progress=False)
    assert test.images.labels == [0, 0, 0, 1, 1]


def test_dbt_layout_and_resizing(dbt_root):
    train = DBTDataset(dbt_root, "train", image_size=(32, 24), progress=False)
    val = DBTDataset(dbt_root, "val", image_size=(32, 24), progress=False)
    assert len(train) == 4 and val.images.labels == [0, 0, 0, 1, 1]
    assert train[0][0].shape == (3, 32, 24)  # (channels, height, width)
    patches = DBTDataset(dbt_root, "train", patch=True, patch_size=16, step_size=8,
                         image_size=(64, 48), progress=False)
    view1, view2, neighbour, similarity = patches[1]
    assert view1.shape == view2.shape == neighbour.shape == (3, 16, 16)


def test_lazy_loading_gives_the_same_images(chest_root):
    eager = read_images(chest_root, "chest", "test", 64, preload=True, progress=False)
    lazy = read_images(chest_root, "chest", "test", 64, preload=False, progress=False)
    assert lazy.pixels is None
    for index in range(len(eager)):
        assert torch.equal(eager.image(index), lazy.image(index))


def test_patch_mode_items(chest_root):
    patches = ChestDataset(chest_root, "train", patch=True, patch_size=32, step_size=8,
                           image_size=64, progress=False)
    torch.manual_seed(0)
    view1, view2, neighbour, similarity = patches[0]
    assert view1.shape == view2.shape == neighbour.shape == (3, 32, 32)
    assert similarity.dtype == torch.float32
    assert any(similarity.item() == pytest.approx(v) for v in similarity_table().values())


@pytest.mark.parametrize("normalization", ["default", "reference"])
def test_view2_is_the_inverted_patch_and_the_neighbour_is_raw(chest_root, normalization):
    images = read_images(chest_root, "chest", "train", 64, progress=False)
    patches = SWSSLDataset(images, patch=True, patch_size=32, step_size=8, normalization=normalization)
    patches.augment = to_model_input(CHEST)  # no randomness: the view pipeline minus the augmentation
    torch.manual_seed(3)
    view1, view2, neighbour, _ = patches[2]
    torch.testing.assert_close(view2, -view1)  # (255 − x)/255 normalised to [-1, 1] is −view1
    if normalization == "reference":
        assert 0 <= neighbour.min() and neighbour.max() <= 1  # the authors: ToTensor only
    else:
        assert neighbour.min() < 0  # normalised like the views


def test_recipes():
    assert (CHEST.blur_p, CHEST.solarize_p, CHEST.mean) == (0.1, 0.2, (0.5, 0.5, 0.5))
    assert (DBT.blur_p, DBT.solarize_p, DBT.mean) == (1.0, 0.0, (0.485, 0.456, 0.406))
    jitter, blur, solarize = augmentation(CHEST).transforms[:3]
    assert jitter.p == 0.8 and jitter.transforms[0].brightness == (0.6, 1.4)
    assert jitter.transforms[0].contrast == (0.6, 1.4)
    assert blur.p == 0.1 and blur.transforms[0].sigma == [0.1, 2.0]
    assert solarize.p == 0.2 and solarize.threshold == 128
    patch = torch.randint(0, 256, (1, 16, 16), dtype=torch.uint8)
    view = augmentation(DBT)(patch)
    assert view.shape == (3, 16, 16) and view.dtype == torch.float32
    assert torch.equal(invert(patch), 255 - patch)
    with pytest.raises(ValueError, match="category must be one of"):
        get_recipe("mri")


def test_black_training_image_is_named(tmp_path):
    root = make_phantom_dataset(tmp_path / "black", layout="chest", image_size=64, counts=COUNTS)
    black = sorted((root / "train" / "0.normal").glob("*.png"))[1]
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(black)
    patches = ChestDataset(root, "train", patch=True, patch_size=32, step_size=8, image_size=64,
                           progress=False)
    with pytest.raises(ValueError, match=f"{black.name}: every 32px grid patch is black"):
        patches[1]


def test_bad_inputs(chest_root, tmp_path):
    with pytest.raises(FileNotFoundError, match="missing folder"):
        ChestDataset(tmp_path, "train", progress=False)
    with pytest.raises(ValueError, match="phase must be one of"):
        read_images(chest_root, "chest", "training", 64)
    with pytest.raises(ValueError, match="category must be one of"):
        read_images(chest_root, "mri", "train", 64)
    images = read_images(chest_root, "chest", "train", 64, progress=False)
    with pytest.raises(ValueError, match="normalization must be one of"):
        SWSSLDataset(images, normalization="imagenet")
    with pytest.raises(ValueError, match="too small for patch 64"):
        SWSSLDataset(images, patch=True, patch_size=64, step_size=32)
    broken = tmp_path / "broken"
    shutil.copytree(chest_root, broken)
    (broken / "test" / "1.abnormal" / "test_abnormal_0000.png").write_bytes(b"not a png")
    with pytest.raises(OSError, match="test_abnormal_0000.png"):
        read_images(broken, "chest", "test", 64, progress=False)
