"""`python -m anomaly_lib` subcommands: one line per error, checked before any work (issue 21).

A second comparison into a folder in use, an output folder that cannot be written, and a
finished-run file cut short each give exit status 2 and one ``error:`` line; nothing outside
the named folders changes (``outside``, a sibling folder).
"""

import json
import socket
import subprocess

import pytest

from anomaly_lib.phantoms import make_phantom_dataset
from tests.test_anomaly_files import assert_one_line, cli, outside, snapshot  # noqa: F401  (outside: a fixture)

pytestmark = pytest.mark.usefixtures("outside")
COUNTS = {"train_normal": 6, "unlabeled_normal": 2, "unlabeled_abnormal": 2, "test_normal": 3, "test_abnormal": 3}


@pytest.fixture(scope="module")
def medad_root(tmp_path_factory):
    return make_phantom_dataset(tmp_path_factory.mktemp("compare") / "data", "medad", 16, COUNTS, seed=2)


def compare_argv(medad_root, out):
    return ["compare", "--medad", medad_root, "--methods", "mean-image", "--seeds", "1", "--image-size", "16",
            "--device", "cpu", "--out", out]


@pytest.fixture
def compared(medad_root, tmp_path, capsys):
    """A finished comparison in ``tmp_path/out`` and the command that made it."""
    argv = compare_argv(medad_root, tmp_path / "out")
    code, _, err = cli(argv, capsys)
    assert code == 0, err
    return tmp_path / "out", argv


def test_a_second_comparison_into_a_folder_in_use_is_one_line(compared, capsys):
    out, argv = compared
    holder = subprocess.Popen(["sleep", "60"])  # stands for the first comparison, still running
    try:
        (out / ".lock").write_text(json.dumps({"pid": holder.pid, "host": socket.gethostname()}))
        before = snapshot(out)
        code, printed, err = cli(argv, capsys)
        assert code == 2 and printed == ""
        assert_one_line(err, f"{out} is in use by another run (process {holder.pid}")
        assert snapshot(out) == before
    finally:
        holder.kill()
        holder.wait()


def test_a_finished_run_file_cut_short_names_it_and_what_to_do(compared, capsys):
    out, argv = compared
    scores = out / "runs" / "mean-image" / "seed0" / "scores.json"
    scores.write_text(scores.read_text()[:30])
    code, _, err = cli(argv, capsys)
    assert code == 2
    assert_one_line(err, f"{scores} cannot be read", "delete it to run that seed (seed0) again")
    (out / "compare_settings.json").write_text('{"settings": {"see')
    code, _, err = cli(argv, capsys)
    assert code == 2
    assert_one_line(err, f"{out / 'compare_settings.json'} cannot be read", "delete that folder")


@pytest.mark.parametrize("command", [
    ["readme-figures", "--smoke"],
    ["phantoms", "--image-size", "16"],
    "compare",
])
def test_an_output_folder_that_cannot_be_written_fails_before_any_work(command, medad_root, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("a file, where a folder would have to be")
    out = blocker / "out"
    argv = compare_argv(medad_root, out) if command == "compare" else [*command, "--out", out]
    code, printed, err = cli(argv, capsys)
    assert code == 2 and printed == "", printed  # no demo, no phantom, no run has started
    assert_one_line(err, f"cannot write to the output folder {blocker}")
    assert blocker.read_text() == "a file, where a folder would have to be"
