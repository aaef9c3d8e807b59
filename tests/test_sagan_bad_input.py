"""`python -m sagan_lib` against a hostile user: every flag honoured, no run destroyed, every bad input named."""

import json
import os
import shutil
import socket
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest
import torch
from PIL import Image

from anomaly_lib.phantoms import make_phantom_dataset
from anomaly_lib.runs import LOCK_NAME
from sagan_lib import Generator, commands
from sagan_lib.cli import build_parser, config_from_args, main
from sagan_lib.config import SaganConfig
from sagan_lib.train import SaganTrainer
from tests.cli_checks import assert_one_line_error, run_cli

COUNTS = {"train_normal": 12, "unlabeled_normal": 6, "unlabeled_abnormal": 8, "test_normal": 4, "test_abnormal": 4}
NUMERIC = [f.name for f in fields(SaganConfig) if f.type in (int, float)]
BOOLEAN = [f.name for f in fields(SaganConfig) if f.type is bool]


@pytest.fixture(scope="module")
def medad_root(tmp_path_factory):
    return make_phantom_dataset(tmp_path_factory.mktemp("medad") / "data", "medad", 32, COUNTS, seed=4)


@pytest.fixture
def flags(medad_root, tmp_path):
    """A tiny, fast training run in tmp_path."""
    return ["--dataset", "folder", "--data_root", str(medad_root), "--model_save_dir", str(tmp_path / "models"),
            "--sample_dir", str(tmp_path / "samples"), "--save_dir", str(tmp_path / "results"),
            "--image_size", "32", "--g_conv_dim", "4", "--d_conv_dim", "4", "--g_repeat_num", "1",
            "--d_repeat_num", "5", "--batch_size", "4", "--model_save_step", "1", "--num_iters", "2",
            "--device", "cpu", "--quiet"]


def run(argv, capsys):
    return run_cli(main, argv, capsys)



def snapshots(folder):
    return sorted(p.name for p in Path(folder).glob("*-G.ckpt"))


# ---------------------------------------------------------------------------- 1. every flag honoured


@pytest.mark.parametrize("name", NUMERIC)
def test_every_numeric_flag_set_to_zero_is_used_or_refused_by_name(name):
    """0 == False in Python: the old CLI dropped every 0. Now 0 reaches the config, or the config names it."""
    args = build_parser().parse_args([f"--{name}", "0"])
    try:
        config = config_from_args(args)
    except ValueError as error:
        assert str(error).startswith(name) or f"{name} " in str(error), error
    else:
        assert getattr(config, name) == 0


@pytest.mark.parametrize("name", NUMERIC)
def test_every_numeric_flag_given_reaches_the_config(name):
    default = getattr(SaganConfig(), name)
    value = (default * 2 or 1) if isinstance(default, int) else (default / 2 or 0.25)
    config = config_from_args(build_parser().parse_args([f"--{name}", str(value)]))
    assert getattr(config, name) == pytest.approx(value)


@pytest.mark.parametrize("name", BOOLEAN)
def test_every_switch_can_be_turned_on_and_off(name):
    parser = build_parser()
    assert getattr(config_from_args(parser.parse_args([f"--{name}"])), name) is True
    assert getattr(config_from_args(parser.parse_args([f"--no-{name}"])), name) is False
    assert getattr(config_from_args(parser.parse_args([])), name) == getattr(SaganConfig(), name)


def test_flags_left_out_keep_the_given_defaults_then_the_authors():
    config = config_from_args(build_parser().parse_args(["--g_lr", "0.001"]), g_lr=0.5, num_iters=7)
    assert (config.g_lr, config.num_iters, config.batch_size) == (0.001, 7, 16)


@pytest.mark.parametrize("argv, fragment", [
    (["--num_iters", "0"], "num_iters must be ≥ 1, got 0"),
    (["--batch_size", "1"], "batch_size must be ≥ 2"),
    (["--image_size", "-64"], "image_size must be ≥ 1"),
    (["--image_size", "60"], "image_size 60 is not divisible by num_patch·8 = 16"),
    (["--image_size", "32", "--num_patch", "4"], "gives 8×8 windows; the generator needs windows of at least 16×16"),
    (["--g_lr", "0"], "g_lr must be > 0"),
    (["--d_lr", "nan"], "d_lr must be a finite number"),
    (["--n_critic", "0"], "n_critic must be ≥ 1"),
    (["--lambda_id", "-1"], "lambda_id must be ≥ 0"),
    (["--beta1", "1"], "beta1 must be in [0, 1)"),
    (["--keep_last", "-1"], "keep_last must be ≥ 0"),
    (["--log_step", "0"], "log_step must be ≥ 1"),
    (["--seed", "-3"], "seed must be ≥ 0"),
    (["--ar", "1.5"], "ar must be in [0, 1]"),
])
def test_senseless_values_get_one_line_before_any_data_is_read(argv, fragment, capsys, tmp_path):
    # --data_root does not exist: the flag's error must come first, before any file is touched
    code, out, err = run(["--data_root", str(tmp_path / "nowhere"), "--model_save_dir", str(tmp_path / "m"),
                          *argv], capsys)
    assert_one_line_error(code, err, fragment)
    assert err.count("\n") == 1 and not (tmp_path / "m").exists()


def test_keep_last_zero_keeps_all_as_the_help_says(flags, tmp_path, capsys):
    help_text = " ".join(build_parser().format_help().split())
    assert "0 keeps all (default: 3)" in help_text
    code, _, err = run([*flags, "--num_iters", "5", "--keep_last", "0"], capsys)
    assert code == 0, err
    assert snapshots(tmp_path / "models") == [f"{i}-G.ckpt" for i in range(1, 6)]


def test_val_holdout_zero_holds_out_ten_percent_but_at_least_8_as_the_help_says(flags, capsys):
    help_text = " ".join(build_parser().format_help().split())
    assert "held out with --holdout split; 0: 10%, at least 8 (default: 0)" in help_text
    code, out, err = run([*flags, "--select_on", "synthetic-val", "--val_holdout", "0"], capsys)
    assert code == 0, err
    assert "(4 normal/unlabeled pairs, 8 labeled normals held out)" in out  # 12 labeled normals − 8 held out


def test_normals_are_held_out_by_default_and_reference_trains_on_all(flags, tmp_path, capsys):
    code, out, err = run(flags, capsys)  # --select_on last, the default
    assert code == 0, err
    assert "(4 normal/unlabeled pairs, 8 labeled normals held out)" in out
    code, out, err = run([*flags, "--holdout", "reference", "--overwrite"], capsys)
    assert code == 0, err
    assert "(12 normal/unlabeled pairs, 0 labeled normals held out)" in out
    assert not (tmp_path / "models" / "calibration.json").exists()  # --overwrite removed the first run's
    code, _, err = run([*flags, "--holdout", "reference", "--select_on", "synthetic-val"], capsys)
    assert_one_line_error(code, err, "synthetic-val needs held-out normals")


def test_lambda_zero_reaches_the_trainer(flags, tmp_path, capsys):
    code, _, err = run([*flags, "--lambda_id", "0", "--lambda_gp", "0", "--beta1", "0"], capsys)
    assert code == 0, err
    saved = torch.load(tmp_path / "models" / "last.ckpt", weights_only=True)
    assert (saved["config"]["lambda_id"], saved["config"]["lambda_gp"], saved["config"]["beta1"]) == (0, 0, 0)
    assert saved["d_optimizer"]["param_groups"][0]["betas"][0] == 0


# ---------------------------------------------------------------------------- 2. no run destroyed


def test_a_second_run_in_the_same_folder_is_refused(flags, tmp_path, capsys):
    assert run(flags, capsys)[0] == 0
    before = (tmp_path / "models" / "last.ckpt").read_bytes()
    code, _, err = run([*flags, "--num_iters", "3"], capsys)
    assert_one_line_error(code, err, f"{tmp_path / 'models'} already holds a run", "--resume", "--overwrite")
    assert (tmp_path / "models" / "last.ckpt").read_bytes() == before
    assert snapshots(tmp_path / "models") == ["1-G.ckpt", "2-G.ckpt"]


def test_overwrite_deletes_the_old_run_first(flags, tmp_path, capsys):
    assert run([*flags, "--num_iters", "3", "--keep_last", "0"], capsys)[0] == 0
    code, out, err = run([*flags, "--overwrite", "--num_iters", "1"], capsys)
    assert code == 0, err
    assert "deleted the previous run's 5 file(s)" in out  # last.ckpt, 3 snapshots, calibration.json
    assert snapshots(tmp_path / "models") == ["1-G.ckpt"]  # nothing of the old run left to mix up
    assert torch.load(tmp_path / "models" / "last.ckpt", weights_only=True)["iteration"] == 1


def test_only_the_runs_own_snapshots_are_pruned_also_after_resume(flags, tmp_path, capsys):
    models = tmp_path / "models"
    models.mkdir()
    torch.save({}, models / "7-G.ckpt")  # someone else's file with a snapshot's name
    assert run([*flags, "--keep_last", "2"], capsys)[0] == 0
    assert snapshots(models) == ["1-G.ckpt", "2-G.ckpt", "7-G.ckpt"]
    assert run([*flags, "--resume", "--num_iters", "4", "--keep_last", "2"], capsys)[0] == 0
    assert snapshots(models) == ["3-G.ckpt", "4-G.ckpt", "7-G.ckpt"]
    assert torch.load(models / "last.ckpt", weights_only=True)["snapshots"] == ["3-G.ckpt", "4-G.ckpt"]


def test_a_second_writer_is_refused_and_a_stale_lock_is_replaced(flags, tmp_path, capsys):
    models = tmp_path / "models"
    models.mkdir()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (models / LOCK_NAME).write_text(json.dumps({"pid": other.pid, "host": socket.gethostname()}))
        code, _, err = run(flags, capsys)
        assert_one_line_error(code, err, "is in use by another run", f"process {other.pid}")
        assert not (models / "last.ckpt").exists()
    finally:
        other.kill()
        other.wait()
    code, out, err = run(flags, capsys)  # the process is gone: its lock is stale
    assert code == 0, err
    assert "stale lock" in out and not (models / LOCK_NAME).exists()


def test_ctrl_c_releases_the_lock_and_keeps_the_checkpoints(flags, tmp_path, capsys, monkeypatch):
    real_step = SaganTrainer.run_unit

    def step_then_interrupt(self):
        if self.iteration == 2:
            raise KeyboardInterrupt
        return real_step(self)

    monkeypatch.setattr(SaganTrainer, "run_unit", step_then_interrupt)
    code, _, err = run([*flags, "--num_iters", "5"], capsys)
    assert code == 130 and err.startswith("interrupted") and "Traceback" not in err
    assert not (tmp_path / "models" / LOCK_NAME).exists()
    assert torch.load(tmp_path / "models" / "last.ckpt", weights_only=True)["iteration"] == 2
    monkeypatch.undo()
    assert run([*flags, "--num_iters", "5", "--resume"], capsys)[0] == 0


def test_stale_temp_files_are_removed_at_start(flags, tmp_path, capsys):
    models = tmp_path / "models"
    models.mkdir()
    (models / ".last.ckpt.a1b2c3d4.tmp").write_bytes(b"\0" * 1000)
    assert run(flags, capsys)[0] == 0
    assert not list(models.glob("*.tmp")) and not list(models.glob(".*.tmp"))


def test_unwritable_output_folders_are_named_before_any_work(flags, tmp_path, capsys, monkeypatch):
    (tmp_path / "samples").write_text("a file where the sample folder should be")
    loaded = []
    monkeypatch.setattr(commands, "checked_splits", lambda *a, **k: loaded.append(1))
    code, _, err = run(flags, capsys)
    assert_one_line_error(code, err, f"cannot write to the output folder {tmp_path / 'samples'}")
    assert not loaded
    # --mode test: before scoring, not after it
    (tmp_path / "results").write_text("a file where the results folder should be")
    code, out, err = run([*flags, "--mode", "test", "--checkpoint", "whatever.ckpt"], capsys)
    assert_one_line_error(code, err, f"cannot write to the output folder {tmp_path / 'results'}")
    assert "AUC" not in out


def test_test_mode_prints_and_saves_the_numbers_before_the_figures(flags, tmp_path, capsys, monkeypatch):
    assert run(flags, capsys)[0] == 0

    def broken_figures(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("sagan_lib.scoring.save_figures", broken_figures)
    report = tmp_path / "report.json"
    code, out, err = run([*flags, "--mode", "test", "--report_json", str(report)], capsys)
    assert_one_line_error(code, err, "disk full")
    assert "AUC" in out and 0 <= json.loads(report.read_text())["auc"] <= 1


# ---------------------------------------------------------------------------- 3. bad inputs named


def test_resume_with_other_network_settings_names_them(flags, capsys):
    assert run(flags, capsys)[0] == 0
    code, _, err = run([*flags, "--resume", "--g_conv_dim", "8", "--d_repeat_num", "4"], capsys)
    assert_one_line_error(code, err, "g_conv_dim: checkpoint 4, now 8", "d_repeat_num: checkpoint 5, now 4")


def test_resume_on_other_data_is_refused(flags, tmp_path, capsys):
    assert run(flags, capsys)[0] == 0
    smaller = make_phantom_dataset(tmp_path / "smaller", "medad", 32, {**COUNTS, "train_normal": 13}, seed=5)
    code, _, err = run([*flags, "--resume", "--data_root", str(smaller), "--num_iters", "3"], capsys)
    assert_one_line_error(code, err, "trained on 4 image pairs, the training data now has 5")  # 8 held out


def test_resume_without_a_checkpoint_is_named_before_loading(flags, tmp_path, capsys):
    code, _, err = run([*flags, "--resume"], capsys)
    assert_one_line_error(code, err, f"no checkpoint to resume from at {tmp_path / 'models' / 'last.ckpt'}")


@pytest.mark.parametrize("content, fragment", [
    (os.urandom(2048), "is not a PyTorch generator checkpoint"),
    (b"G: 0.1, D: 0.2\n", "is not a PyTorch generator checkpoint"),
    (None, "holds a Tensor, not a generator state dict"),
])
def test_a_file_that_is_not_a_generator_checkpoint(flags, tmp_path, capsys, content, fragment):
    path = tmp_path / "weights.ckpt"
    if content is None:
        torch.save(torch.ones(3), path)
    else:
        path.write_bytes(content)
    code, _, err = run([*flags, "--mode", "test", "--checkpoint", str(path)], capsys)
    assert_one_line_error(code, err, fragment)
    assert "weights_only" not in err


def test_resume_from_a_file_that_is_not_a_training_checkpoint(flags, tmp_path, capsys):
    models = tmp_path / "models"
    models.mkdir()
    (models / "last.ckpt").write_text("not a checkpoint")
    code, _, err = run([*flags, "--resume"], capsys)
    assert_one_line_error(code, err, "last.ckpt is not a PyTorch SAGAN training checkpoint")


def test_debug_shows_the_traceback(flags, capsys):
    with pytest.raises(ValueError, match="num_iters must be ≥ 1"):
        main([*flags, "--num_iters", "0", "--debug"])


@pytest.mark.parametrize("argv, fragment", [
    (["--data_root", "/no/such/folder"], "--data_root /no/such/folder is not a folder"),
    (["--dataset", "rsna", "--data_root", "."], "RSNA/data.json, which does not exist"),
    (["--dataset", "chexpert"], "dataset must be rsna, vincxr, lag or folder"),
    (["--device", "cuda:7"], "CUDA"),
])
def test_other_bad_inputs(flags, argv, fragment, capsys):
    code, _, err = run([*flags, *argv], capsys)
    assert_one_line_error(code, err, fragment)


def test_a_missing_image_is_named(flags, medad_root, tmp_path, capsys):
    root = tmp_path / "broken"
    shutil.copytree(medad_root, root)
    (root / "images" / "train_normal_0003.png").unlink()
    code, _, err = run([*flags, "--data_root", str(root)], capsys)
    assert code == 1 and "train_normal_0003.png: no such file" in err and "Traceback" not in err


# ---------------------------------------------------------------------------- 4. data mistakes


def edited_copy(medad_root, tmp_path, change):
    root = tmp_path / "edited"
    shutil.copytree(medad_root, root)
    data = json.loads((root / "data.json").read_text())
    change(data)
    (root / "data.json").write_text(json.dumps(data))
    return root


def test_train_test_overlap_is_refused_unless_allowed(flags, medad_root, tmp_path, capsys):
    root = edited_copy(medad_root, tmp_path, lambda d: d["train"]["0"].__setitem__(0, d["test"]["1"][0]))
    code, _, err = run([*flags, "--data_root", str(root)], capsys)
    assert_one_line_error(code, err, "in a training split and a test split", "test_abnormal_0000.png",
                          "--allow_overlap")
    assert not list((tmp_path / "models").iterdir())  # nothing trained, nothing written
    code, _, err = run([*flags, "--data_root", str(root), "--allow_overlap"], capsys)
    assert code == 0 and "warning:" in err and "allowed by --allow_overlap" in err
    code, _, err = run([*flags, "--data_root", str(root), "--mode", "test"], capsys)  # test mode checks too
    assert_one_line_error(code, err, "in a training split and a test split")


def test_a_duplicate_in_a_split_warns(flags, medad_root, tmp_path, capsys):
    root = edited_copy(medad_root, tmp_path, lambda d: d["test"]["0"].append(d["test"]["0"][0]))
    assert run(flags, capsys)[0] == 0  # a generator to test with
    code, _, err = run([*flags, "--data_root", str(root), "--mode", "test"], capsys)
    assert code == 0 and "warning: one image is listed 2 times: test_normal_0000.png (test_normal)" in err


def test_constant_test_images_warn_that_every_score_is_equal(flags, medad_root, tmp_path, capsys):
    root = tmp_path / "blank"
    shutil.copytree(medad_root, root)
    for path in (root / "images").glob("test_*.png"):
        Image.new("L", (32, 32), 0).save(path)
    assert run(flags, capsys)[0] == 0
    code, out, err = run([*flags, "--mode", "test", "--data_root", str(root)], capsys)
    assert code == 0 and "WARNING: all 8 scores are equal" in out


def test_resume_from_generator_weights_alone_is_refused(flags, tmp_path, capsys):
    models = tmp_path / "models"
    models.mkdir()
    torch.save(Generator(conv_dim=4, repeat_num=1).state_dict(), models / "last.ckpt")
    code, _, err = run([*flags, "--resume"], capsys)
    assert_one_line_error(code, err, "is not a SAGAN training checkpoint (it holds layer1.0.weight",
                          "not just a network's weights")


def test_data_json_is_read_once_per_training_run(flags, capsys, monkeypatch):
    import anomaly_lib.layouts
    import anomaly_lib.medad
    import sagan_lib.data

    real, reads = anomaly_lib.layouts.read_medad, []

    def counted(root):
        reads.append(root)
        return real(root)

    for module in (anomaly_lib.layouts, anomaly_lib.medad, sagan_lib.data):
        monkeypatch.setattr(module, "read_medad", counted)
    code, _, err = run([*flags, "--select_on", "test"], capsys)  # the test split is read for selection too
    assert code == 0, err
    assert len(reads) == 1
