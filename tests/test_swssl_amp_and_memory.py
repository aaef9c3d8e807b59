"""SWSSL in float16 on the CPU (the scaler, resume) and activation checkpointing (exact)."""

import pytest
import torch

from anomaly_lib.amp import MixedPrecision
from anomaly_lib.phantoms import make_phantom_dataset
from swssl_lib.cli import build_parser
from swssl_lib.data import SWSSLDataset, read_images
from swssl_lib.model import PatchModel
from swssl_lib.train import (
    TWIN_LOSS_INIT_SCALE,
    TrainConfig,
    fit,
    load_checkpoint,
    make_optimizer,
    patch_loader,
    train_step,
)


def new_model(**options):
    torch.manual_seed(0)
    return PatchModel(backbone="resnet18", pretrained=False, **options)


def batch(size=4):
    generator = torch.Generator().manual_seed(1)
    return [torch.randn(size, 3, 32, 32, generator=generator) for _ in range(3)] + [torch.rand(size, generator=generator)]


def test_float16_step_is_close_to_float32_and_moves_the_weights():
    """On the same weights the float16 loss is float32's to 1 %; the scaler, starting at 1 for
    the twin loss's large gradients, does not skip."""
    config = TrainConfig()
    fp32, fp16 = new_model(), new_model()
    expected = train_step(fp32, batch(), make_optimizer(fp32, config), config, "cpu")
    precision = MixedPrecision("cpu", torch.float16, init_scale=TWIN_LOSS_INIT_SCALE)
    before = {name: p.detach().clone() for name, p in fp16.named_parameters()}
    loss = train_step(fp16, batch(), make_optimizer(fp16, config), config, "cpu", precision)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-2)
    assert precision.scale == 1.0 and precision.skipped_in_a_row == 0
    assert not all(torch.equal(before[name], p) for name, p in fp16.named_parameters())


@pytest.fixture(scope="module")
def patches(tmp_path_factory):
    root = make_phantom_dataset(tmp_path_factory.mktemp("chest"), layout="chest", image_size=64,
                                counts={"train_normal": 2, "test_normal": 1, "test_abnormal": 1})
    return SWSSLDataset(read_images(root, "chest", "train", 64, progress=False), patch=True, patch_size=32,
                        step_size=8)


def test_float16_resume_is_exact(patches, tmp_path):
    config = TrainConfig(image_size=(64, 64), patch_size=32, step_size=8, batch_size=2, epochs=2,
                         backbone="resnet18", pretrained=False, amp_dtype="fp16")
    straight = new_model()
    fit(straight, patch_loader(patches, config), config, tmp_path / "straight", progress=False, log=lambda *_: None)
    config.epochs = 1
    fit(new_model(), patch_loader(patches, config), config, tmp_path / "split", progress=False, log=lambda *_: None)
    config.epochs = 2
    resumed = new_model()
    fit(resumed, patch_loader(patches, config), config, tmp_path / "split", resume=True, progress=False,
        log=lambda *_: None)
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    assert load_checkpoint(tmp_path / "split" / "last.pt")["amp"] == load_checkpoint(tmp_path / "straight" / "last.pt")["amp"]


def test_float16_checkpoint_keeps_the_loss_scale_for_resuming(patches, tmp_path):
    config = TrainConfig(image_size=(64, 64), patch_size=32, step_size=8, batch_size=2, epochs=1,
                         backbone="resnet18", pretrained=False, amp_dtype="fp16")
    messages = []
    fit(new_model(), patch_loader(patches, config), config, tmp_path, progress=False, log=messages.append)
    assert "precision: float16 autocast (--amp_dtype fp16) with a gradient scaler" in messages
    checkpoint = load_checkpoint(tmp_path / "last.pt")
    assert checkpoint["amp"]["scale"] == TWIN_LOSS_INIT_SCALE
    checkpoint["amp"]["scale"] = 0.25  # as if the scaler had backed off twice
    torch.save(checkpoint, tmp_path / "last.pt")
    config.epochs = 2
    fit(new_model(), patch_loader(patches, config), config, tmp_path, resume=True, progress=False,
        log=lambda *_: None)
    assert load_checkpoint(tmp_path / "last.pt")["amp"]["scale"] == 0.25  # restored, not reset to 1


def test_checkpointed_activations_give_the_same_step():
    """The same loss, gradients and BatchNorm running statistics (updated once, not again when a
    stage is recomputed in backward)."""
    plain, checkpointed = new_model(), new_model(checkpoint_activations=True)
    results = []
    for model in (plain, checkpointed):
        model.train()
        projections = [model(view)[0] for view in batch(4)[:3]]
        loss = projections[0].sub(projections[2]).pow(2).sum() + projections[1].sum()
        loss.backward()
        results.append((loss, [p.grad for p in model.parameters()], list(model.buffers())))
    (loss_a, grads_a, buffers_a), (loss_b, grads_b, buffers_b) = results
    assert torch.equal(loss_a, loss_b)
    assert all(torch.allclose(a, b, rtol=0, atol=1e-7) for a, b in zip(grads_a, grads_b))
    assert all(torch.equal(a, b) for a, b in zip(buffers_a, buffers_b))
    checkpointed.eval()
    assert torch.equal(checkpointed(batch(4)[0])[1], plain.eval()(batch(4)[0])[1])  # no effect outside training


def test_command_line_flags():
    args = build_parser().parse_args(["--amp", "--amp_dtype", "fp16", "--checkpoint_activations"])
    assert args.amp and args.amp_dtype == "fp16" and args.checkpoint_activations
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--amp_dtype", "fp8"])
