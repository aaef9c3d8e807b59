"""Files the methods read back (issue 21): calibration lists stay inside their dataset folder,
a feature bank cut short is named, JSON from a FIFO is refused, and SWSSL refuses a patch grid
with no neighbours before any worker starts. Errors are one line; nothing outside changes."""

import json
import os

import pytest
import torch

from anomaly_lib.calibration import CALIBRATION_FILE, read_calibration, update_calibration
from anomaly_lib.files import OutsideFolderError, following_symlinks
from anomaly_lib.phantoms import make_phantom_dataset
from sagan_lib import Generator
from sagan_lib.cli import main as sagan_main
from swssl_lib.bank import FeatureBank
from swssl_lib.cli import main as swssl_main
from swssl_lib.data import patch_grid_problem
from tests.cli_checks import assert_one_line_error, run_cli
from tests.test_anomaly_files import outside, snapshot, unblocking  # noqa: F401  (outside: a fixture)

pytestmark = pytest.mark.usefixtures("outside")


# ---------------------------------------------------------------------------- calibration.json


def sagan_predict(capsys, checkpoint, inputs, save_dir, *extra):
    return run_cli(sagan_main, ["--mode", "predict", "--quiet", "--checkpoint", checkpoint, "--input", inputs,
                                "--save_dir", save_dir, "--image_size", "32", "--g_conv_dim", "4",
                                "--g_repeat_num", "1", "--device", "cpu", *extra], capsys)


@pytest.fixture
def run_folder(tmp_path):
    """A generator saved beside a calibration.json that lists held-out files of a dataset."""
    data = make_phantom_dataset(tmp_path / "data", "medad", 32, {"train_normal": 3, "unlabeled_normal": 1,
                                                                 "unlabeled_abnormal": 1, "test_normal": 1,
                                                                 "test_abnormal": 1})
    run = tmp_path / "run"
    run.mkdir()
    torch.manual_seed(0)
    torch.save(Generator(conv_dim=4, repeat_num=1).state_dict(), run / "G.ckpt")
    heldout = [str((data / "images" / name).resolve()) for name in sorted(os.listdir(data / "images"))[:2]]
    update_calibration(run, method="sagan", settings={"image_size": 32}, heldout_files=heldout)
    return run, data


def tamper(run, **changes):
    path = run / CALIBRATION_FILE
    calibration = json.loads(path.read_text())
    calibration.update(changes)
    path.write_text(json.dumps(calibration))
    return path


def test_calibration_records_the_dataset_folder_of_its_lists(run_folder):
    run, data = run_folder
    calibration = read_calibration(run, method="sagan")
    assert calibration["dataset"] == str((data / "images").resolve()) and len(calibration["heldout_files"]) == 2


@pytest.mark.parametrize("entry, why", [("/etc/passwd", "leads out of"), ("{data}/../outside/secret.txt",
                                                                          "leads out of")])
def test_a_listed_file_outside_the_dataset_stops_predict_in_one_line(run_folder, tmp_path, capsys, entry, why):
    run, data = run_folder
    entry = entry.format(data=(data / "images").resolve())
    path = tamper(run, heldout_files=[entry])
    code, _, err = sagan_predict(capsys, run / "G.ckpt", data / "images", tmp_path / "pred", "--threshold", "0.1")
    assert_one_line_error(code, err, f"{path} (heldout_files): entry {entry!r} {why}")
    assert not (tmp_path / "pred" / "predictions.csv").exists()


def test_a_listed_link_out_of_the_dataset_needs_follow_symlinks(run_folder, tmp_path):
    run, data = run_folder
    link = (data / "images").resolve() / "linked.png"
    link.symlink_to(tmp_path / "outside" / "img000.png")  # the fixture's sibling folder
    tamper(run, heldout_files=[str(link)])
    with pytest.raises(OutsideFolderError, match=f"entry '{link}' is a link to .*img000.png.*--follow_symlinks"):
        read_calibration(run, method="sagan")
    with following_symlinks():  # what --follow_symlinks sets for the command
        assert read_calibration(run, method="sagan")["heldout_files"] == [str(link)]


def test_swssl_train_files_are_checked_too(run_folder):
    run, data = run_folder
    path = tamper(run, method="swssl", train_files=["/etc/passwd"])
    with pytest.raises(OutsideFolderError, match=f"{path} \\(train_files\\): entry '/etc/passwd' leads out of"):
        read_calibration(run, method="swssl")


def test_json_from_a_fifo_is_refused_not_waited_on(run_folder, tmp_path, capsys):
    run, data = run_folder
    (run / CALIBRATION_FILE).unlink()
    os.mkfifo(run / CALIBRATION_FILE)
    with unblocking(run / CALIBRATION_FILE):
        code, _, err = sagan_predict(capsys, run / "G.ckpt", data / "images", tmp_path / "pred", "--threshold", "0.1")
    assert_one_line_error(code, err, f"calibration file {run / CALIBRATION_FILE} is a FIFO")
    report = tmp_path / "report.json"
    os.mkfifo(report)
    (run / CALIBRATION_FILE).unlink()
    with unblocking(report):
        code, _, err = sagan_predict(capsys, run / "G.ckpt", data / "images", tmp_path / "pred",
                                     "--threshold_from", report, "--cutoff", "youden")
    assert_one_line_error(code, err, f"--threshold_from {report} is a FIFO")


# ---------------------------------------------------------------------------- feature bank


def test_a_feature_bank_cut_short_is_named_with_what_to_do(tmp_path):
    path = tmp_path / "feature_bank.npy"
    bank = FeatureBank(3, 4, 5, path)
    bank.append(torch.ones(3, 4, 5))
    assert FeatureBank.open(path).array.shape == (3, 4, 5)
    whole = path.read_bytes()
    path.write_bytes(whole[:-7])
    with pytest.raises(ValueError, match=f"{path} is cut short: a bank of shape \\(3, 4, 5\\) needs "
                                         f"{len(whole):,} bytes and the file holds {len(whole) - 7:,}") as error:
        FeatureBank.open(path)
    assert f"delete {path} and run again" in str(error.value)
    path.write_bytes(b"not numpy")
    with pytest.raises(ValueError, match=f"{path} is not a feature bank file"):
        FeatureBank.open(path)


# ---------------------------------------------------------------------------- SWSSL patch grid


def test_a_patch_grid_without_neighbours_is_refused_naming_the_flags(tmp_path, capsys):
    assert patch_grid_problem((64, 64), 32, 16) is None and patch_grid_problem((64, 96), 32, 32) is None
    problem = patch_grid_problem((64, 64), 32, 32)
    assert "gives a grid of 1×1 training patch" in problem and "--step_size of at most 16" in problem
    chest = make_phantom_dataset(tmp_path / "chest", "chest", 64, {"train_normal": 10, "test_normal": 1,
                                                                   "test_abnormal": 1})
    before = snapshot(chest)
    code, _, err = run_cli(swssl_main, ["--mode", "train", "--dataset_path", chest, "--save_dir", tmp_path / "run",
                                        "--image_size", "64", "--patch_size", "32", "--step_size", "32",
                                        "--backbone", "resnet18", "--no-pretrained", "--epochs", "1",
                                        "--batch_size", "2", "--val_holdout", "2", "--num_workers", "1",
                                        "--device", "cpu", "--no-progress"], capsys)
    assert_one_line_error(code, err, "--image_size 64×64 with --patch_size 32 and --step_size 32 gives a grid of 1×1")
    assert "DataLoader worker" not in err and snapshot(chest) == before
