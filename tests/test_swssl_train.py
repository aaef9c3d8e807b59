"""The trainer: the authors' step, resumable checkpoints, the NaN stop and checkpoint selection."""

import pytest
import torch

from anomaly_lib.phantoms import make_phantom_dataset
from swssl_lib import step as step_module
from swssl_lib import train as train_module
from swssl_lib.data import SWSSLDataset, read_images
from swssl_lib.model import PatchModel
from swssl_lib.train import TEST_SELECTION_WARNING, TrainConfig, fit, load_checkpoint, patch_loader


@pytest.fixture(scope="module")
def patches(tmp_path_factory):
    root = make_phantom_dataset(tmp_path_factory.mktemp("chest"), layout="chest", image_size=64,
                                counts={"train_normal": 6, "test_normal": 1, "test_abnormal": 1})
    images = read_images(root, "chest", "train", 64, progress=False)
    return SWSSLDataset(images, patch=True, patch_size=32, step_size=8)


def config(**changes):
    settings = dict(image_size=(64, 64), patch_size=32, step_size=8, batch_size=6, epochs=2,
                    backbone="resnet18", pretrained=False, eval_every=1)
    return TrainConfig(**{**settings, **changes})


def new_model():
    torch.manual_seed(0)
    return PatchModel(backbone="resnet18", pretrained=False)


def run(patches, save_dir, resume=False, **changes):
    cfg = config(**changes)
    model = new_model()
    summary = fit(model, patch_loader(patches, cfg), cfg, save_dir, resume=resume, progress=False,
                  log=lambda *_: None)
    return model, summary


def test_optimizer_follows_the_authors():
    optimizer = train_module.make_optimizer(new_model(), TrainConfig())
    group = optimizer.param_groups[0]
    assert (group["lr"], group["momentum"], group["weight_decay"]) == (1e-4, 0.9, 1e-5)
    assert TrainConfig().batch_size == 300 and TrainConfig().clip_value == 0.1


def test_step_clips_gradients_by_value(patches, monkeypatch):
    model = new_model()
    clipped = []
    original = torch.nn.utils.clip_grad_value_
    monkeypatch.setattr(torch.nn.utils, "clip_grad_value_",
                        lambda params, value: clipped.append(value) or original(params, value))
    before = [p.detach().clone() for p in model.parameters()]
    batch = next(iter(patch_loader(patches, config())))
    loss = train_module.train_step(model, batch, train_module.make_optimizer(model, config()),
                                   config(), "cpu")
    assert torch.isfinite(loss) and clipped == [0.1]
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert all(p.grad is None or p.grad.abs().max() <= 0.1 + 1e-7 for p in model.parameters())


def test_last_batch_of_one_is_dropped(patches):
    assert patch_loader(patches, config(batch_size=5)).drop_last  # 6 = 5 + 1
    assert not patch_loader(patches, config(batch_size=4)).drop_last  # 6 = 4 + 2


@pytest.fixture(scope="module")
def two_epochs(patches, tmp_path_factory):
    """A two-epoch run, shared by the checkpoint and resume tests."""
    save_dir = tmp_path_factory.mktemp("straight")
    model, summary = run(patches, save_dir)
    return model, summary, save_dir


def test_checkpoint_holds_everything_to_resume(two_epochs):
    model, summary, save_dir = two_epochs
    checkpoint = load_checkpoint(save_dir / "last.pt")
    assert {"model", "optimizer", "epoch", "rng", "config", "history"} <= set(checkpoint)
    assert checkpoint["epoch"] == 2 and len(checkpoint["history"]) == 2
    assert summary["checkpoint"] == str(save_dir / "last.pt") and summary["selection"] == "last"
    for key, value in model.state_dict().items():
        assert torch.equal(checkpoint["model"][key], value)


def test_resuming_continues_exactly(patches, two_epochs, tmp_path):
    straight = two_epochs[0]
    run(patches, tmp_path, epochs=1)
    resumed, summary = run(patches, tmp_path, resume=True, epochs=2)
    assert [h["epoch"] for h in summary["history"]] == [1, 2]
    for (key, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-6), key


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(patches, tmp_path, monkeypatch):
    calls = {"n": 0}
    real_loss = step_module.twin_loss

    def loss_that_breaks(*args, **kwargs):
        calls["n"] += 1
        value = real_loss(*args, **kwargs)
        return value * float("nan") if calls["n"] > 2 else value  # epoch 1 has 2 steps

    monkeypatch.setattr(step_module, "twin_loss", loss_that_breaks)
    with pytest.raises(FloatingPointError, match="epoch 2, step 0.*last good checkpoint"):
        run(patches, tmp_path, epochs=3, batch_size=3)
    assert load_checkpoint(tmp_path / "last.pt")["epoch"] == 1


def test_default_selection_is_last(two_epochs):
    _, summary, save_dir = two_epochs
    assert summary["selection"] == "last" and not (save_dir / "best.pt").exists()


def test_test_selection_warns_and_keeps_the_best(patches, tmp_path):
    aucs = iter([0.9, 0.7])
    messages = []
    cfg = config(epochs=3, eval_every=2, selection="test")
    with pytest.warns(UserWarning, match="TEST AUC"):
        summary = fit(new_model(), patch_loader(patches, cfg), cfg, tmp_path,
                      evaluate_fn=lambda model: next(aucs), progress=False, log=messages.append)
    assert any(TEST_SELECTION_WARNING in m for m in messages)
    assert summary["checkpoint"] == str(tmp_path / "best.pt")
    # evaluated every 2nd epoch and after the last one
    assert [(h["epoch"], h.get("auc")) for h in summary["history"]] == [(1, None), (2, 0.9), (3, 0.7)]
    best = load_checkpoint(tmp_path / "best.pt")
    assert best["epoch"] is None  # a plain state dict, as the authors save
    last = load_checkpoint(tmp_path / "last.pt")["model"]
    assert any(not torch.equal(best["model"][k], last[k]) for k in last)  # epoch 2 was kept
    with pytest.raises(ValueError, match="selection must be one of"):
        fit(new_model(), patch_loader(patches, cfg), config(selection="best"), tmp_path)
