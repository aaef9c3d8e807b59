"""`python -m anomaly_lib compare` on a tiny phantom split: the table, the files, and honesty."""

import csv
import json
import shutil

import numpy as np
import pytest

from anomaly_lib.__main__ import main
from anomaly_lib.compare import METHODS, CompareSettings, quick_settings, run_comparison
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
    with pytest.raises(ValueError, match="--images must be ≥ 0"):
        CompareSettings(images=-1)


def test_images_match_every_trained_methods_budget():
    from anomaly_lib.compare import images_seen

    settings = quick_settings()  # sagan batch 16, autoencoder batch 32, swssl one patch pair per normal
    matched = settings.matched(160)
    assert settings.budgets == {} and matched.budgets == {"autoencoder": 150, "sagan": 300, "sagan-l1-only": 300, "swssl": 30}
    assert {images_seen(m, matched, 160) for m in matched.methods if m in METHODS} == {settings.images}
    odd = CompareSettings(methods=("sagan-l1-only", "swssl", "pca"), images=100).matched(30)
    assert odd.budgets == {"sagan-l1-only": 7, "swssl": 4}  # the fewest units that reach 100: 112 and 120
    given = CompareSettings(methods=("sagan-l1-only", "swssl"), images=100, budgets={"sagan": 2}).matched(30)
    assert given.budgets == {"sagan": 2, "swssl": 4}  # a budget given for the family wins over --images
    assert CompareSettings(images=0).matched(30).budgets == {}
    with pytest.raises(ValueError, match="--images cannot set swssl's budget.*--budget swssl=N"):
        CompareSettings(methods=("swssl",), images=100, chest_root="chest").matched(30)


def test_a_comparison_with_images_trains_every_method_on_as_many(medad_root, tmp_path):
    settings = tiny_settings(methods=("pca", "autoencoder", "sagan-l1-only"), seeds=1, budgets={}, images=8,
                             autoencoder={"batch_size": 2, "width": 4})
    result = run_comparison(medad_root, settings, tmp_path / "out", log=lambda *_: None)
    assert result.settings.budgets == {"autoencoder": 4, "sagan-l1-only": 2}  # batches of 2 and 4
    assert "autoencoder 8, sagan-l1-only 8; these budgets match." in result.markdown()
    assert json.loads((tmp_path / "out" / "comparison.json").read_text())["settings"]["images"] == 8


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
    assert main(["compare", "--medad", str(medad_root), "--images", "-5", "--out", str(tmp_path / "neg")]) == 2
    assert "--images must be ≥ 0" in capsys.readouterr().err


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
    settings = tiny_settings(methods=("swssl",), seeds=1, budgets={"swssl": 1}, swssl={**swssl, "image_size": 64})
    same_split = run_comparison(medad_root, settings, tmp_path / "a", log=lambda *_: None)
    assert len(same_split.runs[0].scores) == 12 and same_split.rows()[0]["trained_on"] == "labeled normals"
    # SWSSL read the split at 64 px, the others at 32: its patch_knn maps, shrunk to 32, met the masks
    assert set(same_split.runs[0].pixel) == {"pixel_auroc", "aupro"}
    chest = make_phantom_dataset(tmp_path / "chest", "chest", 32, {"train_normal": 8, "test_normal": 3,
                                                                   "test_abnormal": 4}, seed=1)
    own_split = run_comparison(medad_root, tiny_settings(methods=("swssl",), seeds=1, budgets={"swssl": 1},
                                                         swssl={**swssl, "image_size": 32}, chest_root=str(chest)),
                               tmp_path / "b", log=lambda *_: None)
    run = own_split.runs[0]
    assert len(run.scores) == 7 and run.labels.sum() == 4  # the chest folder's own test split
    assert own_split.rows()[0]["trained_on"].startswith("chest folder")


# ---------------------------------------------------------------------------- the report, from made-up runs


def made_up(settings, scores_by_method: dict, labels):
    """A Comparison from given per-seed scores, without training anything."""
    from anomaly_lib.compare import Comparison, RunResult
    from anomaly_lib.metrics import roc_report

    runs = []
    for method, per_seed in scores_by_method.items():
        for seed, scores in enumerate(per_seed):
            report = roc_report(labels, scores)
            runs.append(RunResult(method, seed, report.auc, report.ap, 1.0, np.asarray(scores, float),
                                  np.asarray(labels)))
    data = {"test_normal": int((labels == 0).sum()), "test_abnormal": int((labels == 1).sum()), "train_normal": 40}
    return Comparison(settings, data, runs)


LABELS = np.r_[np.zeros(40), np.ones(40)].astype(int)


def noisy(separation, seed):
    return LABELS * separation + np.random.default_rng(seed).normal(size=len(LABELS))


def test_paired_intervals_against_the_best_baseline_and_a_generated_conclusion():
    settings = tiny_settings(methods=("mean-image", "pca", "knn", "sagan"))
    result = made_up(settings, {
        "mean-image": [noisy(-1.0, 0)] * 2,  # worse than chance
        "pca": [noisy(1.0, 1)] * 2,  # the best baseline
        "knn": [noisy(0.9, 2), noisy(0.9, 3)],
        "sagan": [noisy(6.0, 4), noisy(6.0, 5)],  # far better: its interval excludes 0
    }, LABELS)
    assert result.best_baseline() == "pca"  # sagan is higher but is not a baseline
    rows = {row["method"]: row for row in result.rows()}
    assert rows["pca"]["vs_baseline"] == "reference"
    sagan = rows["sagan"]
    assert sagan["difference"] == pytest.approx(sagan["auc_mean"] - rows["pca"]["auc_mean"])
    assert 0 < sagan["difference_low"] <= sagan["difference"] <= sagan["difference_high"]
    assert rows["mean-image"]["difference_high"] < 0
    text = result.conclusion()
    assert f"sagan beats pca by {sagan['difference']:.3f}" in text
    assert "mean-image is below pca" in text
    assert "knn (random weights)" in text  # knn vs pca: too close to call, and named as random-weight
    assert text in result.markdown()


def test_conclusion_says_when_nothing_is_distinguishable():
    settings = tiny_settings(methods=("pca", "sagan"))
    result = made_up(settings, {"pca": [noisy(1.0, 1)], "sagan": [noisy(1.0, 1) + 1e-3 * noisy(0, 9)]}, LABELS)
    assert "No method is distinguishable from pca." in result.conclusion()
    assert "No method beats" not in result.conclusion()  # said once, not twice


def test_row_labels_and_budgets_are_stated():
    from anomaly_lib.compare import images_seen, row_label

    random_weights = tiny_settings(pretrained=False)
    assert row_label("knn", random_weights) == "knn (random weights)"
    assert row_label("swssl", random_weights) == "swssl (random weights)"
    assert row_label("knn", tiny_settings(pretrained=True)) == "knn"
    assert row_label("pca", random_weights) == "pca"
    settings = tiny_settings(budgets={"sagan": 7, "autoencoder": 5, "swssl": 3})
    assert images_seen("sagan", settings, 16) == 7 * TINY_SAGAN["batch_size"]
    assert images_seen("swssl", settings, 16) == 3 * 16
    assert images_seen("pca", settings, 16) is None
    result = made_up(settings, {"pca": [noisy(1.0, 1)], "sagan": [noisy(2.0, 2)]}, LABELS)
    assert "sagan 28 (the only method here that trains)" in result.markdown()
    both = made_up(settings, {"sagan": [noisy(2.0, 2)], "autoencoder": [noisy(1.0, 1)]}, LABELS)
    autoencoder_batch = 32  # AutoencoderBaseline's default batch, smaller than the 40 labeled normals
    assert f"sagan 28, autoencoder {5 * autoencoder_batch}; these budgets do not match" in both.markdown()


def test_maps_meet_the_lesion_masks_pixel_auroc_and_aupro(comparison, medad_root):
    """Every method here returns maps; the phantoms' masks turn them into pixel AUROC and AUPRO."""
    from anomaly_lib.compare import load_masks, load_split
    from anomaly_lib.metrics import aupro, pixel_auroc

    result, out = comparison
    for run in result.runs:
        assert set(run.pixel) == {"pixel_auroc", "aupro"}, run.method
        assert 0 <= run.pixel["aupro"] <= 1 and 0 <= run.pixel["pixel_auroc"] <= 1
    table = result.markdown()
    assert "| pixel AUROC | AUPRO (FPR ≤ 0.3) |" in table.splitlines()[0]
    # the mean image's maps are (x − μ)²: recompute its metrics from the masks on disk
    data, _ = load_split(medad_root, 32)
    masks = load_masks(medad_root, data.test_paths, 32)
    assert masks.any() and not masks[:6].any()  # lesions in the abnormal half only
    maps = ((data.test_images - data.normals.mean(dim=0)) ** 2)[:, 0].numpy()
    mean_image = result.runs_of("mean-image")[0].pixel
    assert mean_image["pixel_auroc"] == pytest.approx(pixel_auroc(maps, masks), abs=1e-6)
    assert mean_image["aupro"] == pytest.approx(aupro(maps, masks), abs=1e-6)
    saved = json.loads((out / "runs" / "pca" / "seed0" / "scores.json").read_text())
    assert saved["pixel"] == result.runs_of("pca")[0].pixel  # a re-run reads them back


def test_a_split_without_masks_has_no_pixel_columns(medad_root, tmp_path):
    plain = tmp_path / "plain"
    shutil.copytree(medad_root, plain, ignore=shutil.ignore_patterns("masks"))
    result = run_comparison(plain, tiny_settings(methods=("mean-image",), seeds=1), tmp_path / "out",
                            log=lambda *_: None)
    assert result.runs[0].pixel == {} and "pixel AUROC" not in result.markdown()
