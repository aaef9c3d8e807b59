"""`python -m swssl_lib` against a hostile user: no run destroyed, every bad input named, no silent result."""

import json
import os
import shutil

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from anomaly_lib.phantoms import make_phantom_dataset
from sagan_lib import Discriminator, Generator
from swssl_lib import cli as swssl_cli
from swssl_lib.bank import FeatureBank, build_feature_bank
from swssl_lib.cli import main
from swssl_lib.model import PatchModel
from tests.cli_checks import assert_one_line_error, run_cli

TINY = ["--image_size", "64", "--patch_size", "32", "--step_size", "16", "--backbone", "resnet18",
        "--no-pretrained", "--batch_size", "4", "--num_workers", "0", "--no-progress", "--scoring", "reference",
        "--holdout", "reference"]  # 4 training images: none to spare for held-out normals


@pytest.fixture(scope="module")
def chest_root(tmp_path_factory):
    return make_phantom_dataset(tmp_path_factory.mktemp("chest") / "data", layout="chest", image_size=64,
                                counts={"train_normal": 4, "test_normal": 2, "test_abnormal": 2})


@pytest.fixture(scope="module")
def trained(chest_root, tmp_path_factory):
    """A one-epoch run, to resume, overwrite and test against."""
    save_dir = tmp_path_factory.mktemp("trained") / "run"
    assert main(["--dataset_path", str(chest_root), "--save_dir", str(save_dir), "--epochs", "1", *TINY]) == 0
    return save_dir


def run(argv, capsys):
    return run_cli(main, argv, capsys)



@pytest.fixture
def no_image_reading(monkeypatch):
    """Fails the test if any image is read."""
    def read_images(*args, **kwargs):
        pytest.fail("images were read before the bad input was found")

    monkeypatch.setattr(swssl_cli, "read_images", read_images)


# ---------------------------------------------------------------------------- bad flags


@pytest.mark.parametrize("argv, fragment", [
    (["--batch_size", "0"], "--batch_size must be ≥ 2"),
    (["--batch_size", "1"], "--batch_size must be ≥ 2 (the twin loss standardises over the batch; BatchNorm"),
    (["--step_size", "0"], "--step_size must be ≥ 1, got 0"),
    (["--patch_size", "-32"], "--patch_size must be ≥ 1"),
    (["--epochs", "-1"], "--epochs must be ≥ 0"),
    (["--lr", "0"], "--lr must be a number > 0"),
    (["--lr", "inf"], "--lr must be a number > 0"),
    (["--eval_every", "0"], "--eval_every must be ≥ 1"),
    (["--seed", "-1"], "--seed must be ≥ 0"),
    (["--image_size", "40"], "--image_size 40×40 is too small for --patch_size 32 and --step_size 16"),
    (["--image_size", "64", "64", "64"], "--image_size takes one value (square) or two"),
    (["--k", "0"], "--k must be ≥ 1"),
    (["--eval_batch_size", "0"], "--eval_batch_size must be ≥ 1"),
    (["--num_workers", "-1"], "--num_workers must be ≥ 0"),
    (["--batch_size", "5"], "4 training images make no full batch of --batch_size 5"),
    (["--scoring", "patch_knn", "--k", "5"], "--k 5 is more than the 4 training images"),
    (["--device", "cuda:7"], "CUDA"),
])
def test_bad_flags_get_one_line_before_any_image_is_read(chest_root, tmp_path, capsys, no_image_reading,
                                                         argv, fragment):
    code, _, err = run(["--dataset_path", str(chest_root), "--save_dir", str(tmp_path / "run"), *TINY, *argv],
                       capsys)
    assert_one_line_error(code, err, fragment)
    assert err.count("\n") == 1


def test_one_training_image_is_refused(tmp_path, capsys, no_image_reading):
    root = make_phantom_dataset(tmp_path / "one", layout="chest", image_size=64,
                                counts={"train_normal": 1, "test_normal": 1, "test_abnormal": 1})
    code, _, err = run(["--dataset_path", str(root), "--save_dir", str(tmp_path / "run"), *TINY], capsys)
    assert_one_line_error(code, err, "SWSSL needs at least 2 training images, found 1")


def test_epochs_zero_evaluates_the_untrained_model(chest_root, tmp_path, capsys):
    help_text = " ".join(swssl_cli.build_parser().format_help().split())
    assert "--epochs EPOCHS 0 evaluates the untrained model (a baseline)" in help_text
    save_dir = tmp_path / "baseline"
    code, out, err = run(["--dataset_path", str(chest_root), "--save_dir", str(save_dir), "--epochs", "0", *TINY],
                         capsys)
    assert code == 0, err
    assert "--epochs 0: no training; evaluating the untrained model as a baseline" in out and "AUC" in out
    report = json.loads((save_dir / "report.json").read_text())
    assert 0 <= report["results"]["reference"]["auc"] <= 1 and "untrained" in report["training"]
    assert not (save_dir / "last.pt").exists()


def test_debug_shows_the_traceback(chest_root, tmp_path):
    with pytest.raises(ValueError, match="--step_size must be ≥ 1"):
        main(["--dataset_path", str(chest_root), "--save_dir", str(tmp_path), *TINY, "--step_size", "0", "--debug"])


# ---------------------------------------------------------------------------- checkpoints


def sagan_checkpoint(path):
    G, D = Generator(conv_dim=4, repeat_num=1), Discriminator(32, 4, 0, 5)
    torch.save({"G": G.state_dict(), "D": D.state_dict(), "iteration": 1}, path)


@pytest.mark.parametrize("kind, fragment", [
    ("random bytes", "is not a PyTorch SWSSL checkpoint"),
    ("text", "is not a PyTorch SWSSL checkpoint"),
    ("tensor", "holds a Tensor, not an SWSSL checkpoint or state dict"),
    ("SAGAN training checkpoint", "is a SAGAN checkpoint (keys G, D, …), not SWSSL weights"),
    ("SAGAN generator state dict", "does not fit this PatchModel"),
])
def test_a_file_that_is_not_swssl_weights_is_named(chest_root, tmp_path, capsys, no_image_reading, kind, fragment):
    path = tmp_path / "weights.pt"
    if kind == "random bytes":
        path.write_bytes(os.urandom(4096))
    elif kind == "text":
        path.write_text("resnet18 weights, epoch 3\n")
    elif kind == "tensor":
        torch.save(torch.ones(3, 3), path)
    elif kind == "SAGAN training checkpoint":
        sagan_checkpoint(path)
    else:
        torch.save(Generator(conv_dim=4, repeat_num=1).state_dict(), path)
    for mode in ("test", "train"):  # to test, or to start training from
        code, _, err = run(["--mode", mode, "--dataset_path", str(chest_root), "--save_dir", str(tmp_path / mode),
                            "--checkpoint", str(path), *TINY], capsys)
        assert_one_line_error(code, err, fragment)
        assert "weights_only" not in err and len(err.splitlines()) <= 4  # a few named keys, never hundreds


def test_weights_of_another_backbone_name_the_keys(chest_root, trained, tmp_path, capsys, no_image_reading):
    plain = tmp_path / "plain_state_dict.pt"
    torch.save(torch.load(trained / "last.pt", weights_only=True)["model"], plain)  # no config to read
    code, _, err = run(["--mode", "test", "--dataset_path", str(chest_root), "--checkpoint", str(plain),
                        "--save_dir", str(tmp_path / "t"), *TINY, "--backbone", "resnet34"], capsys)
    assert_one_line_error(code, err, "does not fit this PatchModel", "missing keys: backbone.4.2.conv1.weight")


# ---------------------------------------------------------------------------- run folders


def test_a_second_run_in_the_same_folder_is_refused_then_overwritten(chest_root, trained, capsys):
    before = (trained / "last.pt").read_bytes()
    argv = ["--dataset_path", str(chest_root), "--save_dir", str(trained), "--epochs", "1", *TINY]
    code, _, err = run(argv, capsys)
    assert_one_line_error(code, err, f"{trained} already holds a run (last.pt)", "--resume", "--overwrite")
    assert (trained / "last.pt").read_bytes() == before
    code, out, err = run([*argv, "--overwrite", "--seed", "1"], capsys)
    assert code == 0, err
    assert "deleted the previous run's 2 file(s)" in out  # last.pt and history.json
    assert (trained / "last.pt").read_bytes() != before


def test_resume_with_another_backbone_names_the_setting(chest_root, trained, capsys):
    code, _, err = run(["--dataset_path", str(chest_root), "--save_dir", str(trained), "--resume",
                        "--epochs", "2", *TINY, "--backbone", "resnet34"], capsys)
    assert_one_line_error(code, err, "cannot resume from", "backbone: checkpoint 'resnet18', now 'resnet34'")


def test_unwritable_save_dir_is_named_before_any_image_is_read(chest_root, tmp_path, capsys, no_image_reading):
    blocker = tmp_path / "run"
    blocker.write_text("a file where the folder should be")
    for mode in ("train", "test"):
        code, out, err = run(["--mode", mode, "--dataset_path", str(chest_root), "--save_dir", str(blocker),
                              "--checkpoint", str(blocker), *TINY], capsys)
        assert_one_line_error(code, err, f"cannot write to the output folder {blocker}")


# ---------------------------------------------------------------------------- data mistakes


def test_a_test_image_in_the_training_folder_is_refused_unless_allowed(chest_root, tmp_path, capsys):
    root = tmp_path / "leaky"
    shutil.copytree(chest_root, root)
    shutil.copy(root / "test/1.abnormal/test_abnormal_0001.png", root / "train/0.normal/copied.png")
    argv = ["--dataset_path", str(root), "--save_dir", str(tmp_path / "run"), "--epochs", "0", *TINY]
    code, _, err = run(argv, capsys)
    assert_one_line_error(code, err, "training split and a test split", "copied.png (train_normal)",
                          "test_abnormal_0001.png (test_abnormal)")
    code, _, err = run([*argv, "--allow_overlap"], capsys)
    assert code == 0 and "warning:" in err and "allowed by --allow_overlap" in err


# ---------------------------------------------------------------------------- a diverged model


def exploded_model(scale):
    torch.manual_seed(0)
    model = PatchModel(backbone="resnet18", pretrained=False).eval()
    with torch.no_grad():
        model.backbone[-1][-1].bn2.weight.mul_(scale)  # the last BatchNorm: features × scale
    return model


def test_features_too_large_for_float16_are_caught_at_the_bank():
    loader = DataLoader(TensorDataset(torch.rand(2, 3, 64, 64), torch.zeros(2)), batch_size=2)
    with pytest.raises(FloatingPointError, match="feature bank, training images 0–1: .* more than float16 holds "
                                                 "\\(65504\\).* smaller --lr"):
        build_feature_bank(exploded_model(1e6), loader, 32, 16, progress=False)
    with pytest.raises(FloatingPointError, match="NaN or infinite"):
        build_feature_bank(exploded_model(float("nan")), loader, 32, 16, progress=False)
    bank = build_feature_bank(exploded_model(1.0), loader, 32, 16, progress=False)  # a healthy model passes
    assert np.isfinite(bank.array).all()


def test_a_float32_bank_holds_what_float16_cannot():
    bank = FeatureBank(1, 2, 3, dtype=np.float32)
    bank.append(torch.full((1, 2, 3), 1e6))
    assert bank.array.max() == 1e6


def test_an_exploding_learning_rate_is_reported_as_such(chest_root, tmp_path, capsys):
    code, _, err = run(["--dataset_path", str(chest_root), "--save_dir", str(tmp_path / "run"), "--epochs", "1",
                        *TINY, "--lr", "10", "--clip_value", "1000"], capsys)
    assert_one_line_error(code, err, "feature bank, training images 0–3", "diverged", "smaller --lr")
