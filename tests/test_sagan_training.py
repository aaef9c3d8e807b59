"""SAGAN's trainer, checkpoints and command line, at a tiny size."""

import json
import math

import pytest
import torch

from anomaly_lib.phantoms import make_phantom_dataset
from sagan_lib import Generator
from sagan_lib import generator as generator_module
from sagan_lib.cli import main
from sagan_lib.config import SaganConfig
from sagan_lib.data import MedADTestSet, MedADTrainSet
from sagan_lib.train import SaganTrainer, TrainingDiverged, join_generator_calls
from sagan_lib.windows import from_windows, to_windows

COUNTS = {"train_normal": 12, "unlabeled_normal": 6, "unlabeled_abnormal": 8, "test_normal": 4, "test_abnormal": 4}
TINY = dict(image_size=32, g_conv_dim=4, d_conv_dim=4, g_repeat_num=1, d_repeat_num=5, batch_size=4,
            num_iters=4, num_iters_decay=2, log_step=2, sample_step=100, model_save_step=2, lr_update_step=1,
            device="cpu")


@pytest.fixture(scope="module")
def medad_root(tmp_path_factory):
    return make_phantom_dataset(tmp_path_factory.mktemp("medad") / "data", "medad", 32, COUNTS, seed=4)


@pytest.fixture
def tiny_config(medad_root, tmp_path):
    return SaganConfig(dataset="folder", data_root=str(medad_root), model_save_dir=str(tmp_path / "models"),
                       sample_dir=str(tmp_path / "samples"), save_dir=str(tmp_path / "results"), **TINY)


def make_trainer(config, holdout=0):
    train_set = MedADTrainSet(config.data_root, config.image_size, holdout=holdout, progress=False)
    return SaganTrainer(config, train_set, log=lambda *_: None)


def weights(module):
    return {name: p.detach().clone() for name, p in module.named_parameters()}


def changed(before, module):
    return any(not torch.equal(before[name], p) for name, p in module.named_parameters())


@pytest.mark.parametrize("join_calls", [True, False], ids=["one G call", "three G calls"])
def test_critic_step_changes_only_the_critic_then_generator_step_changes_the_generator(tiny_config, join_calls):
    trainer = make_trainer(tiny_config)
    trainer.join_calls = join_calls
    g0, d0 = weights(trainer.G), weights(trainer.D)
    losses = trainer.train_step()  # iteration 1: critic only (n_critic = 2)
    assert set(losses) == {"D/loss", "D/loss_real", "D/loss_fake", "D/loss_gp"}
    assert changed(d0, trainer.D) and not changed(g0, trainer.G)
    d1 = weights(trainer.D)
    losses = trainer.train_step()  # iteration 2: critic and generator
    assert {"G/loss", "G/loss_fake", "G/loss_id", "G/loss_mse"} <= set(losses)
    assert changed(g0, trainer.G) and changed(d1, trainer.D)
    assert all(math.isfinite(v) for v in losses.values())


def test_one_generator_call_on_3b_images_equals_three_calls(monkeypatch):
    monkeypatch.setattr(generator_module, "KEEP_PROBABILITY", 1.0)  # no random keep-mask
    torch.manual_seed(0)
    # float64: in float32 the kernels chosen for 8 and 24 windows round differently (3e-5 on one thread)
    G = Generator(conv_dim=4, repeat_num=1, image_size=32).train().double()
    images = [torch.rand(2, 1, 32, 32, dtype=torch.float64) * 2 - 1 for _ in range(3)]
    joined = from_windows(G(to_windows(torch.cat(images), 2), 6), 2)  # (6, 1, 32, 32)
    separate = torch.cat([from_windows(G(to_windows(x, 2), 2), 2) for x in images])
    torch.testing.assert_close(joined, separate, atol=1e-12, rtol=0)


def test_generator_calls_are_joined_except_for_wide_models_on_a_cpu():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    full = SaganConfig()  # the authors' config: conv_dim 64, batch 16
    assert not join_generator_calls(full, cpu)
    assert join_generator_calls(full, cuda)
    assert join_generator_calls(SaganConfig(g_conv_dim=8, batch_size=16), cpu)  # the demo


def test_save_then_resume_gives_identical_next_losses(tiny_config):
    first = make_trainer(tiny_config)
    first.train_step()
    first.train_step()
    first.train_step()
    path = first.save()
    expected = [first.train_step() for _ in range(3)]

    torch.manual_seed(999)  # resuming must not depend on the RNG state before it
    resumed = make_trainer(tiny_config)
    resumed.load(path)
    assert resumed.iteration == 3
    assert [resumed.train_step() for _ in range(3)] == expected


def test_checkpoint_files_are_written_atomically_and_pruned(tiny_config):
    config = SaganConfig(**{**tiny_config.to_dict(), "keep_last": 1})
    trainer = make_trainer(config)
    trainer.train(progress=False)
    files = sorted(p.name for p in trainer.checkpoint_path.parent.iterdir())
    assert files == ["4-G.ckpt", "last.ckpt"]  # no temp files left, older snapshot pruned
    state = torch.load(trainer.checkpoint_path, weights_only=True)
    assert state["iteration"] == 4 and state["config"]["g_conv_dim"] == 4
    assert {"G", "D", "g_optimizer", "d_optimizer", "rng", "batches"} <= set(state)
    assert [entry["iteration"] for entry in trainer.history] == [2, 4]


def test_non_finite_loss_stops_with_a_clear_message(tiny_config):
    trainer = make_trainer(tiny_config)
    trainer.config.lambda_gp = float("nan")  # SaganConfig itself refuses NaN; set it behind its back
    with pytest.raises(TrainingDiverged, match="non-finite D/loss at iteration 1"):
        trainer.train(progress=False)
    assert not trainer.checkpoint_path.exists()


@pytest.mark.parametrize("mode, expected", [("linear", [1.0, 0.5, 0.0]), ("reference", [1.0, 0.5, 0.0])])
def test_learning_rate_decay(tiny_config, mode, expected):
    config = SaganConfig(**{**tiny_config.to_dict(), "lr_decay": mode, "g_lr": 1.0, "d_lr": 1.0})
    trainer = make_trainer(config)
    rates = []
    for i in range(1, 5):
        trainer._decay_learning_rates(i)  # the schedule only looks at the iteration count
        rates.append(trainer.g_optimizer.param_groups[0]["lr"])
    assert rates[1:] == pytest.approx(expected)


def test_reference_decay_is_the_authors_small_step(tiny_config):
    config = SaganConfig(**{**tiny_config.to_dict(), "lr_decay": "reference", "num_iters": 100,
                            "num_iters_decay": 50, "lr_update_step": 10, "g_lr": 1.0})
    trainer = make_trainer(config)
    for i in range(1, 101):
        trainer._decay_learning_rates(i)
    # five updates of 1/50 each: the authors' rate never gets near zero
    assert trainer.g_optimizer.param_groups[0]["lr"] == pytest.approx(0.9)


def test_synthetic_validation_selection_keeps_a_best_generator(tiny_config):
    config = SaganConfig(**{**tiny_config.to_dict(), "select_on": "synthetic-val"})
    trainer = make_trainer(config, holdout=4)
    assert len(trainer.train_set) == 8
    trainer.train(progress=False)
    assert trainer.best["iteration"] in (2, 4)
    assert (trainer.checkpoint_path.parent / "best-G.ckpt").is_file()


def test_test_set_selection_warns_about_the_leak(tiny_config):
    config = SaganConfig(**{**tiny_config.to_dict(), "select_on": "test"})
    train_set = MedADTrainSet(config.data_root, 32, progress=False)
    with pytest.warns(UserWarning, match="leaks test labels"):
        SaganTrainer(config, train_set, MedADTestSet(config.data_root, 32, progress=False), log=lambda *_: None)


def test_cli_train_resume_and_test(tiny_config, tmp_path):
    flags = ["--dataset", "folder", "--data_root", tiny_config.data_root, "--model_save_dir",
             tiny_config.model_save_dir, "--save_dir", tiny_config.save_dir, "--sample_dir", tiny_config.sample_dir,
             "--image_size", "32", "--g_conv_dim", "4", "--d_conv_dim", "4", "--g_repeat_num", "1",
             "--d_repeat_num", "5", "--batch_size", "4", "--model_save_step", "2", "--device", "cpu", "--quiet"]
    assert main(["--mode", "train", "--num_iters", "2", *flags]) == 0
    assert main(["--mode", "train", "--num_iters", "4", "--resume", *flags]) == 0
    state = torch.load(tmp_path / "models" / "last.ckpt", weights_only=True)
    assert state["iteration"] == 4
    report = tmp_path / "report.json"
    assert main(["--mode", "test", "--test_iters", "4", "--report_json", str(report), *flags]) == 0
    values = json.loads(report.read_text())
    assert 0 <= values["auc"] <= 1 and values["checkpoint"].endswith("4-G.ckpt")
    assert (tmp_path / "results" / "roc_pr.png").stat().st_size > 0
    assert (tmp_path / "results" / "heatmaps.png").stat().st_size > 0


def test_cli_tests_an_official_format_checkpoint(medad_root, tmp_path):
    torch.manual_seed(0)
    official = tmp_path / "SAGAN_G_tiny.ckpt"
    torch.save(Generator(conv_dim=4, repeat_num=1).state_dict(), official)  # a plain state dict
    report = tmp_path / "report.json"
    code = main(["--mode", "test", "--dataset", "folder", "--data_root", str(medad_root), "--image_size", "32",
                 "--g_conv_dim", "4", "--g_repeat_num", "1", "--checkpoint", str(official), "--save_dir",
                 str(tmp_path / "results"), "--report_json", str(report), "--quiet", "--device", "cpu"])
    assert code == 0 and json.loads(report.read_text())["checkpoint"] == str(official)


def test_demo_runs_end_to_end_at_a_tiny_size(tmp_path, capsys):
    code = main(["--mode", "demo", "--save_dir", str(tmp_path), "--num_iters", "2", "--g_conv_dim", "4",
                 "--d_conv_dim", "4", "--g_repeat_num", "1", "--quiet", "--device", "cpu"])
    out = capsys.readouterr().out
    assert code == 0 and "reduced config" in out and "SAGAN demo: AUC" in out
    assert (tmp_path / "roc_pr.png").is_file() and (tmp_path / "heatmaps.png").is_file()
