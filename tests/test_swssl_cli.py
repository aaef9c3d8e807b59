"""``python -m swssl_lib``: a tiny train → test round trip, the demo path and bad command lines."""

import json

import pytest

from anomaly_lib.phantoms import make_phantom_dataset
from swssl_lib.cli import build_parser, main
from swssl_lib.demo import DEMO_DEFAULTS

TINY = ["--image_size", "64", "--patch_size", "32", "--step_size", "16", "--backbone", "resnet18",
        "--no-pretrained", "--batch_size", "8", "--num_workers", "0", "--no-progress", "--val_holdout", "4"]


@pytest.fixture(scope="module")
def chest_root(tmp_path_factory):
    return make_phantom_dataset(tmp_path_factory.mktemp("chest"), layout="chest", image_size=64,
                                counts={"train_normal": 12, "test_normal": 3, "test_abnormal": 3})


def test_train_then_test(chest_root, tmp_path, capsys):
    save_dir = tmp_path / "run"
    main(["--dataset_path", str(chest_root), "--save_dir", str(save_dir), "--epochs", "1",
          "--scoring", "both", "--report_json", str(tmp_path / "report.json"), *TINY])
    printed = capsys.readouterr().out
    assert "checkpoint selection: the last epoch" in printed
    report = json.loads((tmp_path / "report.json").read_text())
    assert set(report["results"]) == {"reference", "patch_knn"}
    assert 0 <= report["results"]["patch_knn"]["auc"] <= 1
    for name in ["last.pt", "feature_bank.npy", "report.json", "roc_reference.png",
                 "roc_patch_knn.png", "heatmaps_patch_knn.png"]:
        assert (save_dir / name).is_file(), name

    main(["--phase", "test", "--dataset_path", str(chest_root), "--checkpoint", str(save_dir / "last.pt"),
          "--save_dir", str(tmp_path / "test"), "--scoring", "reference", *TINY])
    tested = json.loads((tmp_path / "test" / "report.json").read_text())
    assert tested["mode"] == "test" and set(tested["results"]) == {"reference"}
    # the same weights and images give the same score as at the end of training
    assert tested["results"]["reference"]["auc"] == report["results"]["reference"]["auc"]


def test_demo_runs_with_overrides(tmp_path, capsys):
    main(["--mode", "demo", "--save_dir", str(tmp_path), "--image_size", "64", "--patch_size", "32",
          "--step_size", "16", "--epochs", "1", "--no-progress"])
    printed = capsys.readouterr().out
    assert "reduced setting: 64×64 images, patch 32, step 16, resnet18 (random weights)" in printed
    assert "demo reference scoring: AUC" in printed and "demo patch_knn scoring: AUC" in printed
    assert (tmp_path / "heatmaps_patch_knn.png").is_file()
    assert (tmp_path / "phantoms" / "train" / "0.normal").is_dir()


def test_demo_defaults_are_small():
    parser = build_parser()
    parser.set_defaults(**DEMO_DEFAULTS)
    args = parser.parse_args(["--mode", "demo"])
    assert (args.image_size, args.patch_size, args.step_size) == ([256], 64, 32)
    assert (args.backbone, args.pretrained, args.scoring) == ("resnet18", False, "both")


def test_authors_flag_names_and_help():
    parser = build_parser()
    args = parser.parse_args(["--phase", "test", "--dataset_path", "x", "--category", "dbt",
                              "--batch_size", "16", "--patch_size", "128", "--step_size", "32",
                              "--lr", "0.001", "--epochs", "3", "--no-pretrained"])
    assert (args.mode, args.category, args.batch_size, args.lr, args.pretrained) == (
        "test", "dbt", 16, 0.001, False)
    assert parser.parse_args([]).selection == "last"
    help_text = parser.format_help()
    assert "--normalization reference" in help_text and "--selection test" in help_text


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "needs --dataset_path"),
        (["--dataset_path", "/no/such/folder"], "is not a folder"),
        (["--mode", "test", "--dataset_path", "."], "needs --checkpoint"),
        (["--mode", "test", "--dataset_path", ".", "--checkpoint", "nope.pt"], "is not a file"),
    ],
)
def test_bad_command_lines(argv, message, tmp_path, capsys):
    assert main([*argv, "--save_dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_bad_choices_are_rejected(capsys):
    with pytest.raises(SystemExit):
        main(["--scoring", "mahalanobis"])
    assert "invalid choice" in capsys.readouterr().err
