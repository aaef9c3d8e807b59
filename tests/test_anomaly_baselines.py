"""The baselines: fit on normal phantoms, rank lesioned phantoms above normal ones."""

import urllib.error

import numpy as np
import pytest
import torch

from anomaly_lib.baselines import (
    BASELINES,
    FeatureKNNBaseline,
    MeanImageBaseline,
    PCABaseline,
)
from anomaly_lib.metrics import roc_report
from anomaly_lib.phantoms import draw_chest


def phantoms(rng, count, abnormal, lesion_scale=1.0):
    """Chest phantoms (count, 1, 32, 32) in [-1, 1]."""
    images = np.stack([draw_chest(rng, 32, abnormal, lesion_scale).image for _ in range(count)])
    return torch.from_numpy(images).float().div(127.5).sub(1).unsqueeze(1)


@pytest.fixture(scope="module")
def easy_case():
    """40 normal training phantoms; 16 normal and 16 with lesions twice the usual size to score."""
    rng = np.random.default_rng(0)
    normals = phantoms(rng, 40, False)
    test = torch.cat([phantoms(rng, 16, False), phantoms(rng, 16, True, lesion_scale=2.0)])
    return normals, test, np.array([0] * 16 + [1] * 16)


@pytest.mark.parametrize("make", [
    MeanImageBaseline,
    lambda: PCABaseline(n_components=4),
    lambda: FeatureKNNBaseline(pretrained=False),  # random weights: the tests never download
], ids=["mean-image", "pca", "knn"])
def test_baseline_ranks_lesions_above_normals(easy_case, make):
    normals, test, labels = easy_case
    torch.manual_seed(0)
    baseline = make().fit(normals)
    scores = baseline.score(test)
    assert scores.shape == (32,) and np.isfinite(scores).all()
    assert roc_report(labels, scores).auc > 0.8


def test_registry_names_every_baseline():
    assert sorted(BASELINES) == ["knn", "mean-image", "pca"]
    assert all(cls.name == name for name, cls in BASELINES.items())


def test_mean_image_score_is_the_squared_distance():
    normals = torch.stack([torch.full((1, 4, 4), -0.5), torch.full((1, 4, 4), 0.5)])  # mean image: 0
    baseline = MeanImageBaseline().fit(normals)
    assert baseline.score(torch.full((1, 1, 4, 4), 0.25)) == pytest.approx([0.0625])


def test_pca_reconstructs_its_own_subspace_exactly_and_checks_components():
    rng = np.random.default_rng(1)
    basis = rng.normal(size=(2, 16))
    normals = torch.from_numpy(rng.normal(size=(30, 2)) @ basis).float().reshape(30, 1, 4, 4)
    baseline = PCABaseline(n_components=2).fit(normals)
    inside = torch.from_numpy(rng.normal(size=(1, 2)) @ basis).float().reshape(1, 1, 4, 4)
    outside = inside + torch.from_numpy(rng.normal(size=(1, 1, 4, 4))).float()
    assert baseline.score(inside)[0] < 1e-8 < baseline.score(outside)[0]
    with pytest.raises(ValueError, match="n_components must be between 1 and 16"):
        PCABaseline(n_components=17).fit(torch.zeros(30, 1, 4, 4))


def test_knn_features_are_one_per_layer2_position():
    knn = FeatureKNNBaseline(pretrained=False)
    assert knn.patch_features(torch.zeros(2, 1, 32, 32)).shape == (2, 16, 384)  # 4×4 positions, 128 + 256
    resized = FeatureKNNBaseline(pretrained=False, input_size=64)
    assert resized.patch_features(torch.zeros(1, 1, 32, 32)).shape == (1, 64, 384)
    with pytest.raises(ValueError, match="expected grey images"):
        knn.patch_features(torch.zeros(2, 3, 32, 32))


def test_knn_of_a_training_image_is_zero():
    images = phantoms(np.random.default_rng(3), 6, False)
    knn = FeatureKNNBaseline(pretrained=False).fit(images)
    assert np.allclose(knn.score(images[:2]), 0, atol=1e-4)


def test_knn_without_network_explains_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty cache: a download would be needed

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("no network in this test")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    with pytest.raises(RuntimeError, match="pretrained=False") as caught:
        FeatureKNNBaseline(pretrained=True)
    assert "resnet18-" in str(caught.value) and isinstance(caught.value.__cause__, urllib.error.URLError)
