"""`python -m swssl_lib --mode predict`: the run's setup, outputs, thresholds, equality with --mode test, bad input."""

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from anomaly_lib.calibration import read_calibration, weights_fingerprint
from anomaly_lib.layouts import read_chest
from anomaly_lib.phantoms import make_phantom_dataset
from anomaly_lib.predictions import read_predictions, read_summary
from swssl_lib import cli as swssl_cli
from swssl_lib.cli import main
from tests.cli_checks import assert_one_line_error, run_cli

TINY = ["--image_size", "64", "--patch_size", "32", "--step_size", "16", "--backbone", "resnet18",
        "--no-pretrained", "--batch_size", "4", "--num_workers", "0", "--no-progress"]


@pytest.fixture(scope="module")
def chest_root(tmp_path_factory):
    return make_phantom_dataset(tmp_path_factory.mktemp("chest") / "data", layout="chest", image_size=64,
                                counts={"train_normal": 12, "test_normal": 3, "test_abnormal": 3}, seed=2)


@pytest.fixture(scope="module")
def run_dir(chest_root, tmp_path_factory):
    """One epoch, 4 of the 12 normal training images held out."""
    folder = tmp_path_factory.mktemp("swssl") / "run"
    assert main(["--dataset_path", str(chest_root), "--save_dir", str(folder), "--epochs", "1", "--scoring", "both",
                 "--val_holdout", "4", *TINY]) == 0
    return folder


def predict(capsys, *argv):
    return run_cli(main, ["--mode", "predict", "--no-progress", *argv], capsys)



def test_training_stores_what_predict_needs(run_dir, chest_root):
    calibration = read_calibration(run_dir)
    normals = [str(p.resolve()) for p in read_chest(chest_root)["train_normal"]]
    assert calibration["train_files"] == normals[:8] and calibration["heldout_files"] == normals[8:]
    assert calibration["settings"] == {"category": "chest", "image_size": [64, 64], "patch_size": 32,
                                       "step_size": 16, "normalization": "default", "backbone": "resnet18",
                                       "include_last_window": False, "k": 1, "resize": "lanczos"}
    model = torch.load(run_dir / "last.pt", weights_only=True)["model"]
    assert calibration["bank"] == {"file": "feature_bank.npy", "weights": weights_fingerprint(model)}
    (entry,) = calibration["heldout_scores"]
    assert entry["weights"] == weights_fingerprint(model) and entry["k"] == 1
    assert {name: len(scores) for name, scores in entry["scores"].items()} == {"reference": 4, "patch_knn": 4}


def test_predict_writes_csv_overlays_overview_and_summary(run_dir, chest_root, tmp_path, capsys):
    out = tmp_path / "pred"
    code, printed, err = predict(capsys, "--checkpoint", run_dir / "last.pt", "--input", chest_root / "test",
                                 "--save_dir", out, "--specificity", "0.5")
    assert code == 0, err
    rows = read_predictions(out / "predictions.csv")
    assert len(rows) == 6 and list(rows[0]) == ["file", "score", "decision", "overlay"]
    summary = read_summary(out)
    stored = read_calibration(run_dir)["heldout_scores"][0]["scores"]["patch_knn"]
    threshold = summary["threshold"]["value"]
    assert threshold == pytest.approx(np.quantile(stored, 0.5)) and summary["scoring"] == "patch_knn"
    assert all((row["decision"] == "abnormal") == (row["score"] >= threshold) for row in rows)
    assert summary["heatmap_scale"]["anchor"] == threshold
    assert "building it" not in printed  # the run's bank was reused
    for row in rows:
        overlay = np.asarray(Image.open(out / row["overlay"]))  # (64, 64, 3)
        assert overlay.shape == (64, 64, 3)
        # windows start at 0 and 16 (the last start, 32, is skipped): pixels 48… are covered by none
        border = overlay[:, 48:].reshape(-1, 3)
        assert (border[:, 0] == border[:, 1]).all() and (border[:, 1] == border[:, 2]).all()  # plain grey
        inside = overlay[:48, :48].reshape(-1, 3)
        assert (inside[:, 0] != inside[:, 2]).any()  # coloured
    assert (out / "overview.png").stat().st_size > 2000


@pytest.mark.parametrize("scoring", ["reference", "patch_knn"])
def test_predict_on_the_test_split_files_gives_the_scores_of_mode_test(run_dir, chest_root, tmp_path, capsys,
                                                                       monkeypatch, scoring):
    evaluations = []
    original = swssl_cli.save_figures

    def keep(evaluation, *args, **kwargs):
        evaluations.append(evaluation)
        return original(evaluation, *args, **kwargs)

    monkeypatch.setattr(swssl_cli, "save_figures", keep)
    assert main(["--mode", "test", "--dataset_path", str(chest_root), "--checkpoint", str(run_dir / "last.pt"),
                 "--save_dir", str(tmp_path / "test"), "--scoring", scoring, "--val_holdout", "4", *TINY]) == 0
    splits = read_chest(chest_root)
    test_files = splits["test_normal"] + splits["test_abnormal"]
    capsys.readouterr()
    code, _, err = predict(capsys, "--checkpoint", run_dir / "last.pt", "--input", *test_files,
                           "--save_dir", tmp_path / "pred", "--scoring", scoring)
    assert code == 0, err
    rows = read_predictions(tmp_path / "pred" / "predictions.csv")
    assert [row["file"] for row in rows] == [str(path) for path in test_files]
    np.testing.assert_allclose([row["score"] for row in rows], evaluations[0].scores[scoring], rtol=1e-6)


def test_a_bank_built_again_gives_the_same_scores(run_dir, chest_root, tmp_path, capsys):
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    (copy / "feature_bank.npy").unlink()
    argv = ["--input", chest_root / "test", "--threshold", "1.0"]
    assert predict(capsys, "--checkpoint", run_dir / "last.pt", "--save_dir", tmp_path / "a", *argv)[0] == 0
    code, printed, err = predict(capsys, "--checkpoint", copy / "last.pt", "--save_dir", tmp_path / "b", *argv)
    assert code == 0, err
    assert "feature_bank.npy is missing; building it from the 8 training images" in printed
    np.testing.assert_allclose([r["score"] for r in read_predictions(tmp_path / "b" / "predictions.csv")],
                               [r["score"] for r in read_predictions(tmp_path / "a" / "predictions.csv")], rtol=1e-6)


def test_threshold_from_the_runs_report_and_reference_scoring_maps_unanchored(run_dir, chest_root, tmp_path,
                                                                              capsys):
    report = json.loads((run_dir / "report.json").read_text())
    code, printed, err = predict(capsys, "--checkpoint", run_dir / "last.pt", "--input", chest_root / "test",
                                 "--save_dir", tmp_path / "pred", "--scoring", "reference",
                                 "--threshold_from", run_dir / "report.json", "--cutoff", "youden")
    assert code == 0, err
    summary = read_summary(tmp_path / "pred")
    assert summary["threshold"]["value"] == report["results"]["reference"]["youden"]["threshold"]
    assert summary["heatmap_scale"]["anchor"] is None  # the reference score has no map to anchor
    assert "not anchored" in summary["heatmap_scale"]["map"]


def test_no_threshold_gives_scores_only(run_dir, chest_root, tmp_path, capsys):
    code, printed, err = predict(capsys, "--checkpoint", run_dir / "last.pt", "--input", chest_root / "test",
                                 "--save_dir", tmp_path / "pred")
    assert code == 0, err
    assert list(read_predictions(tmp_path / "pred" / "predictions.csv")[0]) == ["file", "score", "overlay"]
    assert "scores only, no decisions" in printed and read_summary(tmp_path / "pred")["threshold"] is None


# ---------------------------------------------------------------------------- bad input


def test_a_checkpoint_without_its_run_folder_names_what_is_missing(run_dir, chest_root, tmp_path, capsys):
    alone = tmp_path / "alone" / "last.pt"
    alone.parent.mkdir()
    shutil.copy(run_dir / "last.pt", alone)
    code, _, err = predict(capsys, "--checkpoint", alone, "--input", chest_root / "test", "--save_dir", tmp_path / "p")
    assert_one_line_error(code, err, f"{alone.parent / 'calibration.json'}", "names them and the settings",
                          "does not exist")
    code, _, err = predict(capsys, "--checkpoint", tmp_path / "none.pt", "--input", chest_root / "test",
                           "--save_dir", tmp_path / "p")
    assert_one_line_error(code, err, "none.pt is not a file")


def test_missing_settings_or_heldout_normals_are_named(run_dir, chest_root, tmp_path, capsys):
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    calibration = json.loads((copy / "calibration.json").read_text())
    calibration.update(heldout_files=[], heldout_scores=[])  # as after --holdout reference
    (copy / "calibration.json").write_text(json.dumps(calibration))
    argv = ["--checkpoint", copy / "last.pt", "--input", chest_root / "test", "--save_dir", tmp_path / "p"]
    code, _, err = predict(capsys, *argv, "--specificity", "0.9")
    assert_one_line_error(code, err, "lists none: the run was trained with --holdout reference")
    del calibration["settings"]["patch_size"], calibration["train_files"]
    (copy / "calibration.json").write_text(json.dumps(calibration))
    code, _, err = predict(capsys, *argv)
    assert_one_line_error(code, err, "lacks train_files, patch_size; train again")


def test_flags_the_run_fixed_and_two_scorings_are_refused(run_dir, chest_root, tmp_path, capsys):
    argv = ["--checkpoint", run_dir / "last.pt", "--input", chest_root / "test", "--save_dir", tmp_path / "p"]
    code, _, err = predict(capsys, *argv, "--patch_size", "16", "--k", "3")
    assert_one_line_error(code, err, "--patch_size (the run used 32), --k (the run used 1)", "leave them out")
    code, _, err = predict(capsys, *argv, "--scoring", "both")
    assert_one_line_error(code, err, "decides on one scoring")


def test_a_report_without_the_scoring_asked_for_is_named(run_dir, chest_root, tmp_path, capsys):
    report = json.loads((run_dir / "report.json").read_text())
    del report["results"]["patch_knn"]
    path = tmp_path / "reference_only.json"
    path.write_text(json.dumps(report))
    code, _, err = predict(capsys, "--checkpoint", run_dir / "last.pt", "--input", chest_root / "test",
                           "--save_dir", tmp_path / "p", "--threshold_from", path, "--cutoff", "authors")
    assert_one_line_error(code, err, "has results for reference, not for patch_knn")
