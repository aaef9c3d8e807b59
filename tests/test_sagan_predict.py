"""`python -m sagan_lib --mode predict`: outputs, every threshold source, equality with --mode test, bad input."""

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from anomaly_lib.calibration import read_calibration
from anomaly_lib.layouts import read_medad
from anomaly_lib.phantoms import make_phantom_dataset
from anomaly_lib.predictions import read_predictions, read_summary
from sagan_lib import Generator
from sagan_lib.cli import config_from_args, main, run_test
from tests.cli_checks import assert_one_line_error, run_cli
from tests.dicom_writer import write_dicom

COUNTS = {"train_normal": 20, "unlabeled_normal": 10, "unlabeled_abnormal": 14, "test_normal": 6, "test_abnormal": 6}
NETWORK = ["--image_size", "32", "--g_conv_dim", "4", "--d_conv_dim", "4", "--g_repeat_num", "1",
           "--d_repeat_num", "5"]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return make_phantom_dataset(tmp_path_factory.mktemp("medad") / "data", "medad", 32, COUNTS, seed=3)


@pytest.fixture(scope="module")
def run_dir(data_root, tmp_path_factory):
    """A tiny training run with the default --holdout split: 8 of the 20 labeled normals held out."""
    folder = tmp_path_factory.mktemp("run")
    code = main(["--mode", "train", "--dataset", "folder", "--data_root", str(data_root), *NETWORK,
                 "--model_save_dir", str(folder / "models"), "--sample_dir", str(folder / "samples"),
                 "--batch_size", "4", "--num_iters", "4", "--model_save_step", "2", "--keep_last", "0",
                 "--device", "cpu", "--quiet"])
    assert code == 0
    return folder / "models"


def predict(capsys, *argv):
    return run_cli(main, ["--mode", "predict", "--quiet", *argv], capsys)



def test_training_stores_the_heldout_normals_and_their_scores(run_dir, data_root):
    calibration = read_calibration(run_dir)
    assert calibration["method"] == "sagan"
    assert calibration["settings"] == {"image_size": 32, "num_patch": 2, "g_conv_dim": 4, "g_repeat_num": 1,
                                       "resize": "bilinear", "value_range": [-1, 1]}
    heldout = [str(p.resolve()) for p in read_medad(data_root)["train_normal"][-8:]]
    assert calibration["heldout_files"] == heldout  # the last 8 labeled normals, as synthetic-val's
    (entry,) = calibration["heldout_scores"]
    assert entry["checkpoint"] == "last.ckpt" and entry["iteration"] == 4
    assert len(entry["scores"]["mean_difference"]) == 8


def test_predict_writes_csv_overlays_overview_and_summary(run_dir, data_root, tmp_path, capsys):
    out = tmp_path / "pred"
    code, printed, err = predict(capsys, "--checkpoint", run_dir / "last.ckpt", "--input", data_root / "images",
                                 "--save_dir", out, "--specificity", "0.75")
    assert code == 0, err
    rows = read_predictions(out / "predictions.csv")
    assert len(rows) == sum(COUNTS.values())
    assert list(rows[0]) == ["file", "score", "decision", "overlay"]
    summary = read_summary(out)
    threshold = summary["threshold"]["value"]
    stored = read_calibration(run_dir)["heldout_scores"][0]["scores"]["mean_difference"]
    assert threshold == pytest.approx(np.quantile(stored, 0.75))
    assert summary["threshold"]["kind"] == "specificity" and summary["threshold"]["n_heldout"] == 8
    assert all(row["decision"] == ("abnormal" if row["score"] >= threshold else "normal") for row in rows)
    counts = summary["counts"]
    assert counts["abnormal (score >= threshold)"] == sum(row["decision"] == "abnormal" for row in rows)
    assert sum(counts.values()) == len(rows)
    # SAGAN's scale reaches the largest pixel error (at least twice the threshold), the threshold marked
    assert summary["heatmap_scale"]["anchor"] == threshold and summary["heatmap_scale"]["high"] >= 2 * threshold
    for row in rows:  # one overlay per image, at the size the model saw
        overlay = np.asarray(Image.open(out / row["overlay"]))
        assert overlay.shape == (32, 32, 3)
    assert (out / "overview.png").stat().st_size > 2000
    assert f"threshold {threshold:.4g}" in printed and "specificity 0.75" in printed


def test_stored_heldout_scores_are_what_predict_gives_those_files(run_dir, tmp_path, capsys):
    calibration = read_calibration(run_dir)
    code, _, err = predict(capsys, "--checkpoint", run_dir / "last.ckpt", "--input", *calibration["heldout_files"],
                           "--save_dir", tmp_path / "pred")
    assert code == 0, err
    scores = [row["score"] for row in read_predictions(tmp_path / "pred" / "predictions.csv")]
    np.testing.assert_allclose(scores, calibration["heldout_scores"][0]["scores"]["mean_difference"], rtol=1e-6)


def test_predict_on_the_test_split_files_gives_the_scores_of_mode_test(run_dir, data_root, tmp_path, capsys):
    args = type("Args", (), {"dataset": "folder", "data_root": str(data_root), "image_size": 32, "g_conv_dim": 4,
                             "g_repeat_num": 1, "device": "cpu", "save_dir": str(tmp_path / "test")})()
    result, _ = run_test(config_from_args(args), checkpoint=run_dir / "last.ckpt", progress=False)
    splits = read_medad(data_root)
    test_files = splits["test_normal"] + splits["test_abnormal"]  # MedADTestSet's order
    capsys.readouterr()
    code, _, err = predict(capsys, "--checkpoint", run_dir / "last.ckpt", "--input", *test_files,
                           "--save_dir", tmp_path / "pred")
    assert code == 0, err
    rows = read_predictions(tmp_path / "pred" / "predictions.csv")
    assert [row["file"] for row in rows] == [str(path) for path in test_files]
    np.testing.assert_allclose([row["score"] for row in rows], result.image_scores, rtol=1e-6)


def test_threshold_from_a_test_report_with_either_cutoff(run_dir, data_root, tmp_path, capsys):
    report = tmp_path / "report.json"
    code = main(["--mode", "test", "--dataset", "folder", "--data_root", str(data_root), *NETWORK,
                 "--checkpoint", str(run_dir / "last.ckpt"), "--save_dir", str(tmp_path / "test"),
                 "--report_json", str(report), "--device", "cpu", "--quiet"])
    assert code == 0
    values = json.loads(report.read_text())
    for cutoff, key in (("authors", "authors_cutoff"), ("youden", "youden")):
        out = tmp_path / cutoff
        code, printed, err = predict(capsys, "--checkpoint", run_dir / "last.ckpt", "--input", data_root / "images",
                                     "--save_dir", out, "--threshold_from", report, "--cutoff", cutoff)
        assert code == 0, err
        assert read_summary(out)["threshold"]["value"] == values[key]["threshold"]
        assert f"the {cutoff} cutoff of the test report {report}" in printed


def test_a_plain_threshold_decides_and_no_threshold_gives_scores_only(run_dir, data_root, tmp_path, capsys):
    code, _, err = predict(capsys, "--checkpoint", run_dir / "last.ckpt", "--input", data_root / "images",
                           "--save_dir", tmp_path / "plain", "--threshold", "0.02")
    assert code == 0, err
    rows = read_predictions(tmp_path / "plain" / "predictions.csv")
    assert {row["decision"] for row in rows} <= {"normal", "abnormal"}
    assert all((row["decision"] == "abnormal") == (row["score"] >= 0.02) for row in rows)

    code, printed, err = predict(capsys, "--checkpoint", run_dir / "last.ckpt", "--input", data_root / "images",
                                 "--save_dir", tmp_path / "none")
    assert code == 0, err
    rows = read_predictions(tmp_path / "none" / "predictions.csv")
    assert list(rows[0]) == ["file", "score", "overlay"]  # no decision column
    summary = read_summary(tmp_path / "none")
    assert summary["threshold"] is None and summary["counts"] is None
    assert "scores only, no decisions" in printed and "scores only" in summary["note"]
    assert summary["heatmap_scale"]["anchor"] is None


def test_a_snapshot_beside_the_run_takes_its_settings_there_and_scores_the_heldout_normals_now(
        run_dir, data_root, tmp_path, capsys):
    code, printed, err = predict(capsys, "--checkpoint", run_dir / "2-G.ckpt", "--input", data_root / "images",
                                 "--save_dir", tmp_path / "pred", "--specificity", "0.5")
    assert code == 0, err  # no network flags needed: calibration.json holds them
    assert "not for the weights in" in printed and "scoring its 8 held-out normals now" in printed
    assert read_summary(tmp_path / "pred")["settings_from"].endswith("calibration.json")


def test_files_of_any_size_and_format_are_resized_as_in_training(run_dir, tmp_path, capsys):
    folder = tmp_path / "mixed"
    folder.mkdir()
    rng = np.random.default_rng(0)
    write_dicom(folder / "scan.dcm", rng.integers(0, 4096, (50, 40)).astype(np.uint16))
    Image.fromarray(rng.integers(0, 256, (90, 70)).astype(np.uint8)).save(folder / "photo.jpg")
    Image.fromarray(rng.integers(0, 65535, (20, 20)).astype(np.uint16)).save(folder / "deep.png")
    code, _, err = predict(capsys, "--checkpoint", run_dir / "last.ckpt", "--input", folder,
                           "--save_dir", tmp_path / "pred")
    assert code == 0, err
    rows = read_predictions(tmp_path / "pred" / "predictions.csv")
    assert len(rows) == 3 and all(np.isfinite(row["score"]) for row in rows)
    assert all(np.asarray(Image.open(tmp_path / "pred" / row["overlay"])).shape == (32, 32, 3) for row in rows)


# ---------------------------------------------------------------------------- bad input


def test_a_missing_checkpoint_is_named(data_root, tmp_path, capsys):
    code, _, err = predict(capsys, "--checkpoint", tmp_path / "nope.ckpt", "--input", data_root / "images",
                           "--save_dir", tmp_path / "pred")
    assert_one_line_error(code, err, "nope.ckpt is not a file")


def test_a_report_without_the_cutoff_is_named(run_dir, data_root, tmp_path, capsys):
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"auc": 0.8, "ap": 0.7}))
    code, _, err = predict(capsys, "--checkpoint", run_dir / "last.ckpt", "--input", data_root / "images",
                           "--save_dir", tmp_path / "pred", "--threshold_from", report, "--cutoff", "authors")
    assert_one_line_error(code, err, f"--threshold_from {report} has no authors_cutoff.threshold")
    assert not (tmp_path / "pred" / "predictions.csv").exists()


def test_an_input_folder_without_images_and_unreadable_files_are_named(run_dir, data_root, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, _, err = predict(capsys, "--checkpoint", run_dir / "last.ckpt", "--input", tmp_path / "empty",
                           "--save_dir", tmp_path / "pred")
    assert_one_line_error(code, err, "empty: no image files in this folder or below")
    folder = tmp_path / "some_bad"
    folder.mkdir()
    shutil.copy(read_medad(data_root)["test_normal"][0], folder / "good.png")
    (folder / "broken.png").write_bytes(b"not a png")
    (folder / "cut.dcm").write_bytes(b"\0" * 128 + b"DICM")
    code, _, err = predict(capsys, "--checkpoint", run_dir / "last.ckpt", "--input", folder,
                           "--save_dir", tmp_path / "pred")
    assert_one_line_error(code, err, "2 of 3 images could not be read", "broken.png", "cut.dcm")


def test_specificity_without_stored_heldout_scores_names_the_missing_file(data_root, tmp_path, capsys):
    torch.manual_seed(0)
    official = tmp_path / "elsewhere" / "SAGAN_G_tiny.ckpt"  # a plain state dict, no run folder
    official.parent.mkdir()
    torch.save(Generator(conv_dim=4, repeat_num=1).state_dict(), official)
    argv = ["--checkpoint", official, "--input", data_root / "images", "--save_dir", tmp_path / "pred",
            "--image_size", "32", "--g_conv_dim", "4", "--g_repeat_num", "1"]
    code, _, err = predict(capsys, *argv, "--specificity", "0.95")
    assert_one_line_error(code, err, f"{official.parent / 'calibration.json'}, and there is none",
                          "--threshold X or --threshold_from")
    code, _, err = predict(capsys, *argv, "--threshold", "0.05")  # the flags give the settings here
    assert code == 0, err


def test_a_flag_that_contradicts_the_run_is_refused(run_dir, data_root, tmp_path, capsys):
    code, _, err = predict(capsys, "--checkpoint", run_dir / "last.ckpt", "--input", data_root / "images",
                           "--save_dir", tmp_path / "pred", "--image_size", "64")
    assert_one_line_error(code, err, "--image_size 64 (the run used 32)", "leave these flags out")


def test_earlier_predictions_are_kept_unless_overwrite(run_dir, data_root, tmp_path, capsys):
    argv = ["--checkpoint", run_dir / "last.ckpt", "--save_dir", tmp_path / "pred", "--input"]
    assert predict(capsys, *argv, read_medad(data_root)["test_normal"][0])[0] == 0
    before = (tmp_path / "pred" / "predictions.csv").read_text()
    code, _, err = predict(capsys, *argv, data_root / "images")
    assert_one_line_error(code, err, "already holds predictions (predictions.csv)", "--overwrite")
    assert (tmp_path / "pred" / "predictions.csv").read_text() == before
    code, _, err = predict(capsys, *argv, data_root / "images", "--overwrite")
    assert code == 0, err
    assert len(read_predictions(tmp_path / "pred" / "predictions.csv")) == sum(COUNTS.values())
    assert len(list((tmp_path / "pred" / "overlays").glob("*.png"))) == sum(COUNTS.values())


def test_predict_flags_outside_predict_mode_are_refused(capsys):
    assert_one_line_error(main(["--mode", "test", "--threshold", "0.1"]), capsys.readouterr().err,
                          "--threshold is for --mode predict, not --mode test")
