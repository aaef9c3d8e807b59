"""`python -m anomaly_lib compare` on a tiny phantom split: the table, the files, and honesty."""

import csv
import json
import shutil

import numpy as np
import pytest

from anomaly_lib.__main__ import main
from anomaly_lib.compare import CompareSettings, quick_settings, run_comparison
from anomaly_lib.phantoms import make_phantom_dataset
from sagan_lib.method import compare_config

COUNTS = {"train_normal": 16, "unlabeled_normal": 7, "unlabeled_abnormal": 9, "test_normal": 6, "test_abnormal": 6}
TINY_SAGAN = {"g_conv_dim": 4, "d_conv_dim": 4, "g_repeat_num": 1, "d_repeat_num": 5, "batch_size": 4}


@pytest.fixture(scope="module")
def medad_root(tmp_path_factory):
    return make_phantom_dataset(tmp_path_factory.mktemp("compare") / "data", "medad", 32, COUNTS, seed=2,
                                lesion_scale=2.0)


def tiny_settings(**changes):
    values = dict(methods=("mean-image", "pca", "autoencoder", "knn", "sagan", "sagan-l1-only"), seeds=2,
                  image_size=32, budgets={"sagan": 2, "autoencoder": 4}, sagan=TINY_SAGAN, pretrained=False,
                  pca_components=4, device="cpu")
    return CompareSettings(**{**values, **changes})


@pytest.fixture(scope="module")
def comparison(medad_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("comparison_out")
    return run_comparison(medad_root, tiny_settings(), out, log=lambda *_: None), out


def test_table_gives_mean_and_std_over_seeds_per_method(comparison):
    result, _ = comparison
    rows = result.rows()
    assert [row["method"] for row in rows] == list(result.settings.methods)
    for row in rows:
        aucs = [run.auc for run in result.runs_of(row["method"])]
        assert len(aucs) == row["seeds"] == 2
        assert row["auc_mean"] == pytest.approx(np.mean(aucs))
        assert row["auc_std"] == pytest.approx(np.std(aucs, ddof=1))
        assert row["auc"] == f"{np.mean(aucs):.3f} ± {np.std(aucs, ddof=1):.3f}"
    by_name = {row["method"]: row for row in rows}
    assert by_name["mean-image"]["auc_std"] == 0  # no randomness: every seed repeats exactly
    assert by_name["sagan"]["trained_on"].startswith("normals + unlabeled pool")
    assert by_name["sagan-l1-only"]["trained_on"] == "labeled normals"
    table = result.markdown()
    assert table.splitlines()[0].startswith("| method | AUC | AP |")
    assert "| pca | " in table and "6 normal and 6 abnormal" in table


def test_files_are_written(comparison):
    result, out = comparison
    with open(out / "comparison.csv") as f:
        rows = list(csv.DictReader(f))
    assert [row["method"] for row in rows] == list(result.settings.methods)
    saved = json.loads((out / "comparison.json").read_text())
    assert len(saved["runs"]) == 2 * len(result.settings.methods)
    assert saved["settings"]["seeds"] == 2 and saved["data"]["test_abnormal"] == 6
    assert (out / "comparison.md").read_text().startswith("| method |")
    assert (out / "comparison.png").stat().st_size > 10_000


def test_median_seed_is_the_middle_auc(comparison):
    result, _ = comparison
    runs = sorted(result.runs_of("sagan"), key=lambda run: run.auc)
    assert result.median_run("sagan") is runs[0]  # two seeds: the lower of the middle two


def test_test_labels_play_no_part_in_any_score(medad_root, tmp_path):
    """Swap the test labels in data.json: every image keeps its score; only the AUC turns over."""
    swapped = tmp_path / "swapped"
    swapped.mkdir()
    (swapped / "images").symlink_to(medad_root / "images")
    data = json.loads((medad_root / "data.json").read_text())
    data["test"] = {"0": data["test"]["1"], "1": data["test"]["0"]}
    (swapped / "data.json").write_text(json.dumps(data))
    settings = tiny_settings(methods=("autoencoder", "sagan"), seeds=1)
    first = run_comparison(medad_root, settings, tmp_path / "a", log=lambda *_: None)
    second = run_comparison(swapped, settings, tmp_path / "b", log=lambda *_: None)
    for a, b in zip(first.runs, second.runs):
        assert sorted(a.scores) == pytest.approx(sorted(b.scores), abs=1e-6)
        assert a.auc + b.auc == pytest.approx(1.0)


def test_settings_check_names_budgets_and_selection():
    assert CompareSettings(budgets={"sagan": 7}).budget("sagan-no-codes") == 7  # ablations share SAGAN's budget
    assert CompareSettings(budgets={"sagan": 7, "sagan-l1-only": 3}).budget("sagan-l1-only") == 3
    with pytest.raises(ValueError, match="unknown method"):
        CompareSettings(methods=("sagan", "gan"))
    with pytest.raises(ValueError, match=r"\['select_on'\] cannot be changed"):
        CompareSettings(sagan={"select_on": "test"})
    with pytest.raises(ValueError, match="not methods"):
        CompareSettings(budgets={"sagann": 3})


def test_sagan_runs_keep_the_schedule_proportions_and_never_select(tmp_path):
    settings = quick_settings(budgets={"sagan": 200})  # the demo schedule: 400 iterations, decay over 100, step 20
    config = compare_config(settings, "sagan-no-critic", seed=3, run_dir=tmp_path, device="cpu")
    assert (config.num_iters, config.num_iters_decay, config.lr_update_step) == (200, 50, 10)
    assert config.select_on == "last" and config.lambda_adv == 0 and config.seed == 3


def test_command_line(medad_root, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["compare", "--medad", str(medad_root), "--methods", "mean-image,pca", "--seeds", "2",
                 "--image-size", "32", "--pca-components", "3", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0 and "| mean-image | " in printed and "3 components" in printed
    assert (out / "comparison.png").is_file()
    assert main(["compare", "--medad", str(medad_root), "--methods", "sagan,gan", "--out", str(out)]) == 2
    assert "unknown method(s) ['gan']" in capsys.readouterr().err
    assert main(["compare", "--medad", str(medad_root), "--sagan-set", "g_conv_dim=wide", "--out", str(out)]) == 2
    assert "g_conv_dim takes a number" in capsys.readouterr().err
    assert main(["compare", "--medad", str(medad_root), "--out", str(medad_root)]) == 2  # not an output folder
    assert "was not made by a comparison" in capsys.readouterr().err
    assert main(["compare", "--out", str(tmp_path / "none")]) == 2
    assert "--medad" in capsys.readouterr().err


def test_a_rerun_reuses_finished_runs_and_refuses_other_settings(comparison, medad_root, tmp_path):
    result, finished = comparison
    out = shutil.copytree(finished, tmp_path / "out")  # leave the shared fixture as it is
    assert not list(out.glob("runs/sagan/seed*/models/last.ckpt"))  # only for resuming: removed once scored
    assert sorted(p.name for p in (out / "runs" / "sagan" / "seed0" / "models").iterdir()) == ["2-G.ckpt"]
    lines = []
    again = run_comparison(medad_root, tiny_settings(methods=("sagan", "mean-image"), seeds=3), out, log=lines.append)
    assert sum("finished earlier" in line for line in lines) == 4  # 2 seeds × 2 methods; seed 2 is new
    assert [run.auc for run in again.runs_of("sagan")][:2] == [run.auc for run in result.runs_of("sagan")]
    with pytest.raises(FileExistsError, match="other pca_components"):
        run_comparison(medad_root, tiny_settings(pca_components=5), out, log=lambda *_: None)
    other = make_phantom_dataset(tmp_path / "other", "medad", 32, COUNTS, seed=9)
    with pytest.raises(FileExistsError, match="other data"):
        run_comparison(other, tiny_settings(), out, log=lambda *_: None)


def test_swssl_on_the_medad_split_and_on_a_chest_folder(medad_root, tmp_path):
    swssl = {"patch_size": 16, "step_size": 8, "batch_size": 8, "backbone": "resnet18"}
    settings = tiny_settings(methods=("swssl",), seeds=1, budgets={"swssl": 1}, swssl=swssl)
    same_split = run_comparison(medad_root, settings, tmp_path / "a", log=lambda *_: None)
    assert len(same_split.runs[0].scores) == 12 and same_split.rows()[0]["trained_on"] == "labeled normals"
    chest = make_phantom_dataset(tmp_path / "chest", "chest", 32, {"train_normal": 8, "test_normal": 3,
                                                                   "test_abnormal": 4}, seed=1)
    own_split = run_comparison(medad_root, tiny_settings(methods=("swssl",), seeds=1, budgets={"swssl": 1},
                                                         swssl={**swssl, "image_size": 32}, chest_root=str(chest)),
                               tmp_path / "b", log=lambda *_: None)
    run = own_split.runs[0]
    assert len(run.scores) == 7 and run.labels.sum() == 4  # the chest folder's own test split
    assert own_split.rows()[0]["trained_on"].startswith("chest folder")
