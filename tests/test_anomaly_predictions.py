"""What --mode predict shares: its flags, how --input is gathered, and the names of its overlays."""

import argparse

import numpy as np
import pytest
from PIL import Image

from anomaly_lib.predictions import (
    add_predict_flags,
    check_predict_flags,
    collect_inputs,
    overlay_names,
)
from tests.dicom_writer import write_dicom


def parse(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", default="predict")
    parser.add_argument("--checkpoint")
    parser.add_argument("--save_dir")
    add_predict_flags(parser)
    return parser.parse_args(argv)


@pytest.fixture
def checkpoint(tmp_path):
    path = tmp_path / "last.ckpt"
    path.write_bytes(b"weights")
    return str(path)


def test_a_complete_command_line_passes(checkpoint):
    check_predict_flags(parse(["--checkpoint", checkpoint, "--input", "a.png", "b", "--save_dir", "out",
                               "--specificity", "0.95"]))


@pytest.mark.parametrize("argv, fragment", [
    (["--input", "x", "--save_dir", "o"], "--mode predict needs --checkpoint"),
    (["--checkpoint", "CKPT", "--save_dir", "o"], "--mode predict needs --input"),
    (["--checkpoint", "CKPT", "--input", "x"], "--mode predict needs --save_dir"),
    (["--checkpoint", "missing.ckpt", "--input", "x", "--save_dir", "o"], "--checkpoint missing.ckpt is not a file"),
    (["--specificity", "0.9", "--threshold", "0.1"], "give one threshold source, not --specificity and --threshold"),
    (["--threshold_from", "r.json"], "--threshold_from REPORT.json and --cutoff authors|youden go together"),
    (["--cutoff", "youden"], "go together"),
    (["--specificity", "95"], "--specificity must be between 0 and 1"),
    (["--threshold", "nan"], "--threshold must be a finite number"),
])
def test_contradictory_or_missing_flags_are_named(checkpoint, argv, fragment):
    base = ["--checkpoint", checkpoint, "--input", "x", "--save_dir", "o"]
    argv = [checkpoint if arg == "CKPT" else arg for arg in argv]
    if not any(flag in argv for flag in ("--checkpoint", "--input", "--save_dir")):
        argv = base + argv
    with pytest.raises((ValueError, FileNotFoundError), match=fragment.replace("|", r"\|")):
        check_predict_flags(parse(argv))


def test_predict_flags_are_refused_in_other_modes():
    with pytest.raises(ValueError, match="--specificity is for --mode predict, not --mode train"):
        check_predict_flags(parse(["--mode", "train", "--specificity", "0.9"]))
    check_predict_flags(parse(["--mode", "train"]))


def write_png(path, value=100):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8), value, np.uint8)).save(path)
    return path


def test_folders_are_searched_recursively_files_taken_as_given_each_once(tmp_path):
    a = write_png(tmp_path / "in" / "a.png")
    b = write_png(tmp_path / "in" / "sub" / "b.PNG")
    dicom = write_dicom(tmp_path / "in" / "sub" / "IM0001", np.full((8, 8), 500, np.uint16))  # no extension
    uid = write_dicom(tmp_path / "in" / "sub" / "1.2.840.5", np.full((8, 8), 500, np.uint16))  # named by its UID
    (tmp_path / "in" / "notes.txt").write_text("not an image")
    (tmp_path / "in" / ".hidden.png").write_bytes(b"")
    write_png(tmp_path / "in" / "out" / "overlays" / "a.png")  # an earlier prediction inside the input
    extra = write_png(tmp_path / "other.tif")
    found = collect_inputs([tmp_path / "in", extra, a], skip=tmp_path / "in" / "out")
    assert found == [a, uid, dicom, b, extra]  # sorted per folder; a given twice is taken once


def test_missing_inputs_and_folders_without_images_are_named(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("")
    with pytest.raises(ValueError, match=r"--input .*empty: no image files in this folder or below"):
        collect_inputs([tmp_path / "empty"])
    with pytest.raises(FileNotFoundError, match=r"no such file or folder: .*nope.png"):
        collect_inputs([tmp_path / "nope.png"])


def test_overlay_names_stay_unique():
    assert overlay_names(["x/a.png", "y/a.dcm", "b.png"]) == ["a.png", "a_1.png", "b.png"]
