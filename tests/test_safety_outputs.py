"""Predictions written whole (issue 21): --overwrite loses nothing, a killed run is not taken for
done, nothing is written or deleted through a link, every image write and every score is checked.

The model is a tiny SAGAN generator saved as a plain state dict (no training run): predict takes
its settings from the flags. Every case checks that nothing outside the named folders changed
(``outside``, a sibling folder).
"""

import errno
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from anomaly_lib.heatmaps import HeatScale
from anomaly_lib.phantoms import make_phantom_dataset
from anomaly_lib.predictions import read_predictions, write_predictions
from sagan_lib import Generator
from sagan_lib.cli import main as sagan_main
from tests.cli_checks import assert_one_line_error, run_cli
from tests.test_anomaly_files import outside, snapshot  # noqa: F401  (outside: a fixture)

COUNTS = {"train_normal": 2, "unlabeled_normal": 1, "unlabeled_abnormal": 1, "test_normal": 2, "test_abnormal": 2}
pytestmark = pytest.mark.usefixtures("outside")  # a sibling folder no command may change
SETTINGS = ["--image_size", "32", "--g_conv_dim", "4", "--g_repeat_num", "1", "--threshold", "0.05",
            "--device", "cpu"]


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """A folder of 8 small phantom images to predict on."""
    root = make_phantom_dataset(tmp_path_factory.mktemp("medad") / "data", "medad", 32, COUNTS, seed=1)
    return root / "images"


@pytest.fixture(scope="module")
def generator(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "G.ckpt"
    torch.save(Generator(conv_dim=4, repeat_num=1).state_dict(), path)
    return path


def predict(capsys, checkpoint, inputs, save_dir, *extra):
    return run_cli(sagan_main, ["--mode", "predict", "--quiet", "--checkpoint", checkpoint, "--input", inputs,
                                "--save_dir", save_dir, *SETTINGS, *extra], capsys)


@pytest.fixture
def predicted(generator, images, tmp_path, capsys):
    """Finished predictions in ``tmp_path/pred``."""
    code, _, err = predict(capsys, generator, images, tmp_path / "pred")
    assert code == 0, err
    return tmp_path / "pred"


def test_overwrite_with_a_truncated_input_keeps_the_old_predictions(predicted, generator, images, tmp_path, capsys):
    before = snapshot(predicted)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for path in sorted(images.iterdir())[:3]:
        (inputs / path.name).write_bytes(path.read_bytes())
    cut = sorted(inputs.iterdir())[1]
    cut.write_bytes(cut.read_bytes()[:40])
    code, _, err = predict(capsys, generator, inputs, predicted, "--overwrite")
    assert_one_line_error(code, err, "could not be read", cut.name)
    assert snapshot(predicted) == before


def test_overwrite_with_a_bad_checkpoint_keeps_the_old_predictions(predicted, images, tmp_path, capsys):
    before = snapshot(predicted)
    broken = tmp_path / "broken.ckpt"
    broken.write_bytes(b"not a checkpoint")
    code, _, err = predict(capsys, broken, images, predicted, "--overwrite")
    assert_one_line_error(code, err, str(broken))
    assert snapshot(predicted) == before


def test_overwrite_on_a_full_disk_keeps_the_old_predictions(predicted, generator, images, monkeypatch, capsys):
    before = snapshot(predicted)
    real_open = open

    def full_disk(file, mode="r", *args, **kwargs):
        if str(file).endswith("predictions.csv") and "w" in mode:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr("builtins.open", full_disk)
    code, _, err = predict(capsys, generator, images, predicted, "--overwrite")
    assert_one_line_error(code, err, "no space left on device while writing ", "predictions.csv")
    assert snapshot(predicted) == before  # and no temporary folder left behind


KILLED_WHILE_WRITING_THE_SUMMARY = """
import os, sys
import anomaly_lib.predictions as predictions
predictions.write_json = lambda path, payload: os._exit(9)  # killed with everything but the summary written
from sagan_lib.cli import main
main(sys.argv[1:])
"""


def test_a_killed_predict_is_not_taken_for_done(generator, images, tmp_path, capsys):
    out = tmp_path / "pred"
    argv = ["--mode", "predict", "--quiet", "--checkpoint", generator, "--input", images, "--save_dir", out,
            *SETTINGS]
    killed = subprocess.run([sys.executable, "-c", KILLED_WHILE_WRITING_THE_SUMMARY, *map(str, argv)],
                            capture_output=True, text=True)
    assert killed.returncode == 9, killed.stderr
    assert not (out / "summary.json").exists()
    code, printed, err = run_cli(sagan_main, argv, capsys)  # no --overwrite: the unfinished run is replaced
    assert code == 0, err
    assert len(read_predictions(out / "predictions.csv")) == 8 and (out / "summary.json").is_file()
    assert sorted(path.name for path in out.iterdir()) == ["overlays", "overview.png", "predictions.csv",
                                                           "summary.json"]


def test_unfinished_predictions_of_an_older_kit_are_replaced_without_overwrite(generator, images, tmp_path, capsys):
    out = tmp_path / "pred"
    out.mkdir()
    (out / "predictions.csv").write_text("file,score,decision,overlay\nx.png,0.1,nor")  # a row cut in half
    code, printed, err = predict(capsys, generator, images, out)
    assert code == 0, err
    assert len(read_predictions(out / "predictions.csv")) == 8


def test_overwrite_does_not_write_or_delete_through_an_overlays_link(predicted, generator, images, tmp_path,
                                                                     capsys):
    elsewhere = tmp_path / "elsewhere"  # OUT/overlays made a link to another folder holding PNGs
    (predicted / "overlays").rename(elsewhere)
    (predicted / "overlays").symlink_to(elsewhere)
    before, before_out = snapshot(elsewhere), snapshot(predicted)
    code, _, err = predict(capsys, generator, images, predicted, "--overwrite")
    assert_one_line_error(code, err, f"{predicted / 'overlays'} is a link to {elsewhere}", "remove the link")
    assert snapshot(elsewhere) == before and snapshot(predicted) == before_out


def test_other_files_among_the_overlays_are_refused_not_deleted(predicted, generator, images, capsys):
    (predicted / "overlays" / "notes.txt").write_text("mine")
    before = snapshot(predicted)
    code, _, err = predict(capsys, generator, images, predicted, "--overwrite")
    assert_one_line_error(code, err, "holds files predict did not write (notes.txt)")
    assert snapshot(predicted) == before


def test_a_failed_overlay_write_is_one_line_naming_the_file(generator, images, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cv2, "imwrite", lambda path, image: False)  # what OpenCV does on an unwritable folder
    code, printed, err = predict(capsys, generator, images, tmp_path / "pred")
    assert_one_line_error(code, err, "could not write ", "overlays", ".png")
    assert "wrote" not in printed and not (tmp_path / "pred" / "predictions.csv").exists()


def test_nan_weights_stop_predict_naming_the_checkpoint(predicted, images, tmp_path, capsys):
    generator = Generator(conv_dim=4, repeat_num=1)
    with torch.no_grad():
        for parameter in generator.parameters():
            parameter.fill_(float("nan"))
    broken = tmp_path / "nan.ckpt"
    torch.save(generator.state_dict(), broken)
    before = snapshot(predicted)
    code, _, err = predict(capsys, broken, images, predicted, "--overwrite")
    assert_one_line_error(code, err, str(broken), "non-finite values (NaN or infinite)")  # refused when loaded
    assert snapshot(predicted) == before


def test_write_predictions_refuses_non_finite_scores_for_every_method(tmp_path):
    images = np.zeros((2, 4, 4), np.uint8)
    with pytest.raises(ValueError, match="1 of 2 scores are not finite .* with the checkpoint m.ckpt"):
        write_predictions(tmp_path / "pred", ["a.png", "b.png"], [0.1, np.inf], images, lambda i: np.zeros((4, 4)), None,
                          HeatScale(0.0, 1.0), "map", {"checkpoint": "m.ckpt"}, 0.0, progress=False)
    assert not (tmp_path / "pred").exists()
