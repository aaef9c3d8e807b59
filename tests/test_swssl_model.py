"""PatchModel: the authors' state-dict keys, the two outputs, and the pretrained-weights error."""

import json
import urllib.error
from pathlib import Path

import pytest
import torch

from swssl_lib.model import Patch_Model, PatchModel

FIXTURES = Path(__file__).parent / "fixtures"


def test_wide_resnet_state_dict_matches_the_authors():
    reference = json.loads((FIXTURES / "swssl_state_dict_shapes.json").read_text())
    expected = reference["Patch_Model(input_channel=3)"]
    model = Patch_Model(input_channel=3, pretrained=False)  # the authors' name, wide_resnet50_2
    shapes = {key: list(value.shape) for key, value in model.state_dict().items()}
    assert list(shapes) == list(expected)  # same keys in the same order
    assert shapes == expected
    assert sum(p.numel() for p in model.parameters()) == 75_226_944


@pytest.fixture(scope="module")
def small_model():
    torch.manual_seed(0)
    return PatchModel(backbone="resnet18", pretrained=False).eval()


def test_forward_returns_projection_and_pooled_embedding(small_model):
    x = torch.rand(3, 3, 64, 64)
    projection, embedding = small_model(x)
    assert projection.shape == embedding.shape == (3, 512)
    feature_map = small_model.backbone(x)  # (3, 512, 2, 2)
    torch.testing.assert_close(embedding, feature_map.mean(dim=(2, 3)))
    torch.testing.assert_close(projection, small_model.projector(embedding))
    assert not torch.allclose(projection, embedding)


def test_batch_of_one(small_model):
    projection, embedding = small_model(torch.rand(1, 3, 32, 32))
    assert projection.shape == embedding.shape == (1, 512)


def test_other_input_channels_replace_the_first_convolution():
    model = PatchModel(input_channel=1, backbone="resnet18", pretrained=False).eval()
    first = model.backbone[0]
    assert (first.in_channels, first.out_channels, first.kernel_size, first.stride) == (1, 64, (7, 7), (2, 2))
    assert first.bias is None
    assert model(torch.rand(2, 1, 32, 32))[1].shape == (2, 512)


def test_failed_download_explains_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty cache: a download would be needed

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("no network in this test")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    with pytest.raises(RuntimeError) as caught:
        PatchModel(backbone="resnet18", pretrained=True)
    message = str(caught.value)
    assert "pretrained=False" in message and "--no-pretrained" in message
    assert str(tmp_path / "hub" / "checkpoints") in message
    assert "resnet18-" in message  # the file to pre-download
    assert isinstance(caught.value.__cause__, urllib.error.URLError)


def test_unknown_backbone():
    with pytest.raises(ValueError, match="unknown backbone"):
        PatchModel(backbone="resnet_not_a_model", pretrained=False)
    with pytest.raises(ValueError, match="not a ResNet"):
        PatchModel(backbone="squeezenet1_0", pretrained=False)
