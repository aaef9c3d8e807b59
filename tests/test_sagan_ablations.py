"""SAGAN's ablation switches: each loss weight and the position codes do what they say."""

import pytest
import torch

from anomaly_lib.phantoms import make_phantom_dataset
from sagan_lib import Generator, generator_loss
from sagan_lib.config import SaganConfig
from sagan_lib.data import MedADTrainSet
from sagan_lib.train import SaganTrainer

COUNTS = {"train_normal": 8, "unlabeled_normal": 4, "unlabeled_abnormal": 6, "test_normal": 2, "test_abnormal": 2}
TINY = dict(image_size=32, g_conv_dim=4, d_conv_dim=4, g_repeat_num=1, d_repeat_num=5, batch_size=4,
            num_iters=4, num_iters_decay=2, lr_update_step=1, device="cpu")


@pytest.fixture(scope="module")
def train_set(tmp_path_factory):
    root = make_phantom_dataset(tmp_path_factory.mktemp("ablations") / "data", "medad", 32, COUNTS, seed=3)
    return MedADTrainSet(root, 32, progress=False)


def make_trainer(train_set, tmp_path, join_calls, **changes):
    config = SaganConfig(**TINY, model_save_dir=str(tmp_path / "models"), **changes)
    trainer = SaganTrainer(config, train_set, log=lambda *_: None)
    trainer.join_calls = join_calls
    return trainer


def loss_inputs(seed=0):
    generator = torch.Generator().manual_seed(seed)
    fake_score = torch.randn(4, 1, 1, 1, generator=generator)
    normal, normal_rec, anomaly_rec = (torch.rand(4, 1, 8, 8, generator=generator) * 2 - 1 for _ in range(3))
    return fake_score, normal, normal_rec, anomaly_rec


def test_generator_loss_defaults_are_the_authors_sum():
    fake_score, normal, normal_rec, anomaly_rec = loss_inputs()
    total, parts = generator_loss(fake_score, normal, normal_rec, anomaly_rec)
    expected = -fake_score.mean() + (normal - normal_rec).abs().mean() + ((normal - anomaly_rec) ** 2).mean()
    torch.testing.assert_close(total, expected)
    assert set(parts) == {"G/loss_fake", "G/loss_id", "G/loss_mse"}


def test_lambda_mse_zero_leaves_adversarial_plus_identity():
    fake_score, normal, normal_rec, _ = loss_inputs()
    total, parts = generator_loss(fake_score, normal, normal_rec, None, lambda_id=2.0, lambda_mse=0)
    assert "G/loss_mse" not in parts
    torch.testing.assert_close(total, parts["G/loss_fake"] + 2.0 * parts["G/loss_id"])


def test_lambda_adv_zero_leaves_identity_plus_anomaly_removal():
    _, normal, normal_rec, anomaly_rec = loss_inputs()
    total, parts = generator_loss(None, normal, normal_rec, anomaly_rec, lambda_adv=0, lambda_mse=0.5)
    assert "G/loss_fake" not in parts
    torch.testing.assert_close(total, parts["G/loss_id"] + 0.5 * parts["G/loss_mse"])


def test_negative_loss_weights_are_refused():
    with pytest.raises(ValueError, match="lambda_mse must be ≥ 0, got -1"):
        SaganConfig(lambda_mse=-1)


def windows_seen_by_generator(trainer):
    """Record the number of windows in every generator call."""
    calls = []
    trainer.G.register_forward_hook(lambda module, args, output: calls.append(args[0].shape[0]))
    return calls


@pytest.mark.parametrize("join_calls", [True, False], ids=["one G call", "separate G calls"])
def test_lambda_adv_zero_never_calls_nor_trains_the_critic(train_set, tmp_path, join_calls):
    trainer = make_trainer(train_set, tmp_path, join_calls, lambda_adv=0)
    critic_before = {name: p.detach().clone() for name, p in trainer.D.named_parameters()}
    generator_before = {name: p.detach().clone() for name, p in trainer.G.named_parameters()}
    critic_calls = []
    trainer.D.register_forward_hook(lambda *_: critic_calls.append(1))
    windows = windows_seen_by_generator(trainer)

    first, second = trainer.train_step(), trainer.train_step()  # n_critic = 2: G steps on the second
    assert first == {}  # nothing to do without a critic on a critic-only iteration
    assert set(second) == {"G/loss", "G/loss_id", "G/loss_mse"}
    assert second["G/loss"] == pytest.approx(second["G/loss_id"] + second["G/loss_mse"], rel=1e-6)
    assert critic_calls == []
    assert all(torch.equal(p, critic_before[name]) for name, p in trainer.D.named_parameters())
    assert any(not torch.equal(p, generator_before[name]) for name, p in trainer.G.named_parameters())
    assert sum(windows) == 2 * 4 * 4  # x_B and x_B′ only (batch 4, 4 windows each); never x_A


@pytest.mark.parametrize("join_calls", [True, False], ids=["one G call", "separate G calls"])
def test_lambda_mse_zero_never_shows_the_generator_a_synthetic_anomaly(train_set, tmp_path, join_calls):
    trainer = make_trainer(train_set, tmp_path, join_calls, lambda_mse=0)
    trainer.train_step()
    windows = windows_seen_by_generator(trainer)
    losses = trainer.train_step()
    assert set(losses) >= {"D/loss", "G/loss", "G/loss_fake", "G/loss_id"} and "G/loss_mse" not in losses
    assert losses["G/loss"] == pytest.approx(losses["G/loss_fake"] + losses["G/loss_id"], rel=1e-5, abs=1e-6)
    assert sum(windows) == 2 * 4 * 4  # x_A and x_B only


def test_both_terms_off_trains_the_generator_on_normals_alone(train_set, tmp_path):
    trainer = make_trainer(train_set, tmp_path, True, lambda_adv=0, lambda_mse=0)
    trainer.train_step()
    losses = trainer.train_step()
    assert set(losses) == {"G/loss", "G/loss_id"} and losses["G/loss"] == pytest.approx(losses["G/loss_id"])


def test_position_codes_off_gives_zero_codes_and_the_same_state_dict(sagan_reference, train_set, tmp_path):
    cfg = sagan_reference["config"]
    with_codes = Generator(conv_dim=cfg["conv_dim"], repeat_num=cfg["repeat_num"])
    without = Generator(conv_dim=cfg["conv_dim"], repeat_num=cfg["repeat_num"], use_position_codes=False)
    assert with_codes.binary_encoding.abs().sum() > 0 and without.binary_encoding.abs().sum() == 0
    shapes = {name: value.shape for name, value in with_codes.state_dict().items()}
    assert {name: value.shape for name, value in without.state_dict().items()} == shapes
    without.load_state_dict(sagan_reference["G_state"], strict=True)  # the authors' weights still load
    trainer = make_trainer(train_set, tmp_path, True, use_position_codes=False)
    assert trainer.G.binary_encoding.abs().sum() == 0
