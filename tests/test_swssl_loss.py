"""The twin loss against the authors' numbers (tests/fixtures/swssl_small.pt)."""

import inspect
from pathlib import Path

import pytest
import torch

from swssl_lib import loss as loss_module
from swssl_lib.loss import twin_loss

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def twin():
    return torch.load(FIXTURES / "swssl_small.pt", weights_only=True)["twin"]


@pytest.mark.parametrize("variant", ["paper", "notebook"])
def test_matches_reference_without_neighbours(twin, variant):
    loss = twin_loss(twin["f_patch1"], twin["f_patch2"], variant=variant)
    torch.testing.assert_close(loss, twin[f"{variant}_loss"], atol=1e-5, rtol=0)


@pytest.mark.parametrize("variant", ["paper", "notebook"])
def test_matches_reference_with_neighbours(twin, variant):
    loss = twin_loss(twin["f_patch1"], twin["f_patch2"], f_neg=twin["f_neg"],
                     target=twin["target"], variant=variant)
    torch.testing.assert_close(loss, twin[f"{variant}_loss_with_neg"], atol=1e-5, rtol=0)


def test_variants_differ_and_neighbour_terms_add(twin):
    paper = twin_loss(twin["f_patch1"], twin["f_patch2"])
    notebook = twin_loss(twin["f_patch1"], twin["f_patch2"], variant="notebook")
    with_neg = twin_loss(twin["f_patch1"], twin["f_patch2"], twin["f_neg"], twin["target"])
    assert abs(paper - notebook) > 1
    assert with_neg > paper


def test_follows_the_inputs_device_and_dtype(twin):
    f1, f2, neg = (twin[k].double() for k in ("f_patch1", "f_patch2", "f_neg"))
    target = twin["target"].tolist()  # a plain list (as from a collated batch) is accepted
    loss = twin_loss(f1, f2, f_neg=neg, target=target)
    assert loss.dtype == torch.float64 and loss.device == f1.device
    torch.testing.assert_close(loss.float(), twin["paper_loss_with_neg"], atol=1e-5, rtol=0)
    assert ".cuda" not in inspect.getsource(loss_module)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_runs_on_gpu(twin):
    cuda = {k: v.cuda() for k, v in twin.items()}
    loss = twin_loss(cuda["f_patch1"], cuda["f_patch2"], cuda["f_neg"], cuda["target"])
    torch.testing.assert_close(loss.cpu(), twin["paper_loss_with_neg"], atol=1e-5, rtol=0)


def test_gradients_reach_all_inputs(twin):
    f1, f2, neg = (twin[k].clone().requires_grad_() for k in ("f_patch1", "f_patch2", "f_neg"))
    twin_loss(f1, f2, neg, twin["target"]).backward()
    assert all(x.grad is not None and x.grad.abs().sum() > 0 for x in (f1, f2, neg))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"variant": "barlow"}, "variant"),
        ({"f_neg": "f_neg"}, "without its target"),
        ({"target": "target"}, "without f_neg"),
    ],
)
def test_bad_arguments(twin, kwargs, message):
    kwargs = {k: twin[v] if v in twin else v for k, v in kwargs.items()}
    with pytest.raises(ValueError, match=message):
        twin_loss(twin["f_patch1"], twin["f_patch2"], **kwargs)


def test_bad_shapes(twin):
    with pytest.raises(ValueError, match="batch of at least 2"):
        twin_loss(twin["f_patch1"][:1], twin["f_patch2"][:1])
    with pytest.raises(ValueError, match="must both be"):
        twin_loss(twin["f_patch1"], twin["f_patch2"][:, :8])
    with pytest.raises(ValueError, match="target must have shape"):
        twin_loss(twin["f_patch1"], twin["f_patch2"], twin["f_neg"], twin["target"][:3])
