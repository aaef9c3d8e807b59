"""What every registered method (`anomaly_lib.method`) promises, checked for each one.

A method registered later is checked by the same tests without a line added here.
"""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from anomaly_lib import method
from tests.cli_checks import assert_one_line_error, run_cli

NAMES = method.names()


@pytest.mark.parametrize("name", NAMES)
def test_the_command_line_has_the_shared_flags(name, capsys):
    with pytest.raises(SystemExit) as stop:
        method.get(name).main(["--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--mode", "--resume", "--overwrite", "--progress", "--no-progress", "--quiet", "--debug",
                 "--follow_symlinks"):
        assert flag in text, f"{name}: {flag} missing"


@pytest.mark.parametrize("name", NAMES)
def test_resume_without_a_checkpoint_is_one_line_naming_it(name, tmp_path, capsys):
    registered = method.get(name)
    code, _, err = run_cli(registered.main, ["--mode", "demo", "--save_dir", tmp_path / "run", "--resume",
                                             "--no-progress", *registered.smoke_flags], capsys)
    assert_one_line_error(code, err, "--resume: no checkpoint to resume from", registered.run_files[0])


@pytest.mark.parametrize("name", NAMES)
def test_variants_and_settings_describe_the_method(name):
    registered = method.get(name)
    assert name in registered.variants and registered.variants[name] == {}
    assert set(registered.trains_on) <= set(registered.variants)
    fields = set(registered.config.__dataclass_fields__)
    assert set(registered.setting_types) <= fields, "a comparison may only set the method's own settings"
    for changes in registered.variants.values():
        assert set(changes) <= fields


# ---------------------------------------------------------------------------- one small run per method

COUNTS = {"medad": {"train_normal": 20, "unlabeled_normal": 8, "unlabeled_abnormal": 12, "test_normal": 6,
                    "test_abnormal": 6},
          "chest": {"train_normal": 20, "test_normal": 6, "test_abnormal": 6}}
HELD_OUT = 8  # --holdout split on 20 normals: 10 %, at least 8


def train_flags(registered, data, run, length):
    return ["--mode", "train", "--no-progress", *registered.data_flags(data, run), *registered.smoke_flags,
            f"--{registered.length}", length]


@pytest.fixture(scope="module", params=NAMES)
def trained(request, tmp_path_factory):
    """(method, its data folder, a run folder trained for one unit): made once per method."""
    from anomaly_lib.phantoms import make_phantom_dataset

    registered = method.get(request.param)
    root = tmp_path_factory.mktemp(registered.name)
    data = make_phantom_dataset(root / "data", registered.layout, image_size=64, counts=COUNTS[registered.layout])
    code = registered.main([str(flag) for flag in train_flags(registered, data, root / "run", 1)])
    assert code == 0
    return registered, data, root / "run"


def copy_of(run, tmp_path):
    """A run folder of one's own to change."""
    import shutil

    return Path(shutil.copytree(run, tmp_path / "run"))


def test_missing_data_is_one_line_naming_it(trained, tmp_path, capsys):
    registered, _, _ = trained
    code, _, err = run_cli(registered.main, train_flags(registered, tmp_path / "nowhere", tmp_path / "run", 1), capsys)
    assert_one_line_error(code, err, str(tmp_path / "nowhere"))
    assert not (tmp_path / "run" / registered.run_files[0]).exists()


def test_training_writes_its_checkpoint_and_held_out_scores(trained):
    registered, _, run = trained
    state = torch.load(run / registered.run_files[0], weights_only=True)
    assert 1 in (state.get("iteration"), state.get("epoch"))
    calibration = json.loads((run / "calibration.json").read_text())
    assert calibration["method"] == registered.name and len(calibration["heldout_files"]) == HELD_OUT
    entries = calibration["heldout_scores"]
    assert entries and all(len(scores) == HELD_OUT and np.isfinite(scores).all()
                           for entry in entries for scores in entry["scores"].values())


def test_a_second_run_into_the_folder_is_refused_unless_overwrite(trained, tmp_path, capsys):
    registered, data, run = trained
    run = copy_of(run, tmp_path)
    before = (run / registered.run_files[0]).read_bytes()
    code, _, err = run_cli(registered.main, train_flags(registered, data, run, 1), capsys)
    assert_one_line_error(code, err, "--overwrite")
    assert (run / registered.run_files[0]).read_bytes() == before
    code, out, err = run_cli(registered.main, [*train_flags(registered, data, run, 1), "--overwrite"], capsys)
    assert code == 0, err
    assert "deleted the previous run's" in out and not (run / ".previous-run").exists()


def test_an_overwrite_that_fails_leaves_the_old_run_whole(trained, tmp_path, capsys):
    """--overwrite with a truncated training image: one line, and the old run byte for byte."""
    import shutil

    registered, data, run = trained
    run = copy_of(run, tmp_path)
    before = {path.name: path.read_bytes() for path in run.iterdir() if path.is_file()}
    broken = Path(shutil.copytree(data, tmp_path / "data"))
    victim = next(path for path in sorted(broken.rglob("*.png"))
                  if "train" in str(path.relative_to(broken)) and "normal" in str(path.relative_to(broken)).lower())
    victim.write_bytes(victim.read_bytes()[:100])
    code, _, err = run_cli(registered.main, [*train_flags(registered, broken, run, 1), "--overwrite"], capsys)
    assert_one_line_error(code, err, victim.name)
    assert {path.name: path.read_bytes() for path in run.iterdir() if path.is_file()} == before
    assert not (run / ".previous-run").exists()


def test_resume_continues_and_refuses_to_go_back(trained, tmp_path, capsys):
    registered, data, run = trained
    run = copy_of(run, tmp_path)
    code, _, err = run_cli(registered.main, [*train_flags(registered, data, run, 2), "--resume"], capsys)
    assert code == 0, err
    state = torch.load(run / registered.run_files[0], weights_only=True)
    assert 2 in (state.get("iteration"), state.get("epoch")) and len(state["history"]) == 2
    code, _, err = run_cli(registered.main, [*train_flags(registered, data, run, 1), "--resume"], capsys)
    assert_one_line_error(code, err, "past the end")


def test_predict_decides_at_the_held_out_quantile(trained, tmp_path, capsys):
    registered, data, run = trained
    inputs = sorted(path for path in Path(data).rglob("*.png") if "masks" not in path.parts)[:3]
    flags = ["--mode", "predict", "--checkpoint", run / registered.run_files[0], "--input", *inputs,
             "--save_dir", tmp_path / "out", "--specificity", "0.9", "--no-progress"]
    code, out, err = run_cli(registered.main, flags, capsys)
    assert code == 0, err
    rows = list(csv.DictReader(open(tmp_path / "out" / "predictions.csv")))
    assert len(rows) == 3 and {row["decision"] for row in rows} <= {"normal", "abnormal"}
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert "calibration.json" in json.dumps(summary["threshold"])
    assert "scored now" not in out + json.dumps(summary), "the stored scores of these very weights were not found"
    code, _, err = run_cli(registered.main, flags, capsys)
    assert_one_line_error(code, err, "--overwrite")


def test_broken_weights_stop_test_and_predict_naming_the_checkpoint(trained, tmp_path, capsys):
    """A checkpoint whose weights are NaN: no report, no predictions, one line naming the file."""
    registered, data, run = trained
    run = copy_of(run, tmp_path)
    path = run / registered.run_files[0]
    state = torch.load(path, weights_only=True)
    for key in ("G", "model"):
        if key in state:
            state[key] = {name: value.float().fill_(float("nan")) if value.is_floating_point() else value
                          for name, value in state[key].items()}
    torch.save(state, path)
    flags = ["--mode", "predict", "--checkpoint", path, "--input", next(Path(data).rglob("*.png")),
             "--save_dir", tmp_path / "out", "--threshold", "0.5", "--no-progress"]
    code, _, err = run_cli(registered.main, flags, capsys)
    assert_one_line_error(code, err, "non-finite", str(path))
    assert not (tmp_path / "out" / "predictions.csv").exists()
    test_flags = [*registered.data_flags(data, run), *registered.smoke_flags, "--mode", "test", "--checkpoint", path,
                  "--no-progress"]
    code, out, err = run_cli(registered.main, test_flags, capsys)
    assert_one_line_error(code, err, "non-finite", str(path))
    assert "AUC" not in out
