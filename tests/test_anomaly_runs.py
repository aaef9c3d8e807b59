"""Run folders: writable check, the lock, refusing to overwrite a run, stale temp files."""

import json
import os
import socket
import subprocess
import sys

import pytest

from anomaly_lib import runs
from anomaly_lib.runs import RunFolderError, claim_run_folder

FILES = ("last.pt", "best.pt", "[0-9]*-G.ckpt")


def quiet(*_):
    pass


def write_lock(folder, pid, host=None):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / runs.LOCK_NAME).write_text(json.dumps({"pid": pid, "host": host or socket.gethostname()}))


@pytest.fixture
def other_process():
    """A process that is running, as a second writer would be."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process.pid
    process.kill()
    process.wait()


def test_a_file_in_place_of_the_folder_is_named_before_any_work(tmp_path):
    blocker = tmp_path / "run"
    blocker.write_text("not a folder")
    with pytest.raises(RunFolderError, match=f"cannot write to the output folder {blocker}"):
        with claim_run_folder(blocker, FILES, log=quiet):
            pytest.fail("the body must not run")
    with pytest.raises(RunFolderError, match="cannot write to the output folder .*samples"):
        with claim_run_folder(tmp_path / "fine", FILES, other_folders=[blocker / "samples"], log=quiet):
            pytest.fail("the body must not run")


def test_the_lock_holds_our_pid_and_goes_on_exit_error_and_ctrl_c(tmp_path):
    lock = tmp_path / runs.LOCK_NAME
    with claim_run_folder(tmp_path, FILES, log=quiet):
        assert json.loads(lock.read_text())["pid"] == os.getpid()
        with claim_run_folder(tmp_path, FILES, log=quiet):  # the CLI, then the trainer: nested claims
            assert lock.is_file()
        assert lock.is_file()  # the outer claim still holds it
    assert not lock.exists()
    for interruption in (ValueError("boom"), KeyboardInterrupt()):
        with pytest.raises(type(interruption)):
            with claim_run_folder(tmp_path, FILES, log=quiet):
                raise interruption
        assert not lock.exists()


def test_a_second_writer_is_refused(tmp_path, other_process):
    write_lock(tmp_path, other_process)
    with pytest.raises(RunFolderError, match=f"in use by another run \\(process {other_process} on"):
        with claim_run_folder(tmp_path, FILES, log=quiet):
            pytest.fail("the body must not run")
    assert json.loads((tmp_path / runs.LOCK_NAME).read_text())["pid"] == other_process  # left alone


def test_a_stale_lock_of_a_dead_process_is_replaced(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    write_lock(tmp_path, dead.pid)
    messages = []
    with claim_run_folder(tmp_path, FILES, log=messages.append):
        assert json.loads((tmp_path / runs.LOCK_NAME).read_text())["pid"] == os.getpid()
    assert any("stale lock" in m and str(dead.pid) in m for m in messages)


def test_a_lock_from_another_machine_is_taken_over_only_to_resume(tmp_path):
    write_lock(tmp_path, 12345, host="some-colab-vm-that-disconnected")
    with pytest.raises(RunFolderError, match="another machine.*delete .*\\.lock"):
        with claim_run_folder(tmp_path, FILES, log=quiet):
            pass
    messages = []
    with claim_run_folder(tmp_path, FILES, resuming=True, log=messages.append):
        pass
    assert any("taken over to resume" in m for m in messages)


def test_a_folder_holding_a_run_is_refused_unless_resumed_or_overwritten(tmp_path):
    for name in ("last.pt", "best.pt", "3-G.ckpt", "notes.txt"):
        (tmp_path / name).write_text(name)
    with pytest.raises(RunFolderError) as error:
        with claim_run_folder(tmp_path, FILES, log=quiet):
            pass
    assert str(tmp_path) in str(error.value) and "--resume" in str(error.value) and "--overwrite" in str(error.value)
    assert (tmp_path / "last.pt").read_text() == "last.pt"  # untouched
    with claim_run_folder(tmp_path, FILES, resuming=True, log=quiet):
        assert (tmp_path / "3-G.ckpt").is_file()
    messages = []
    with claim_run_folder(tmp_path, FILES, overwrite=True, log=messages.append):
        # only the run's files go, set aside until the new run completes
        assert sorted(p.name for p in tmp_path.iterdir()) == [".lock", ".previous-run", "notes.txt"]
    assert "deleted the previous run's 3 file(s)" in messages[-1]


def test_results_only_work_takes_the_lock_but_starts_no_run(tmp_path):
    (tmp_path / "last.pt").write_text("a finished run")
    with claim_run_folder(tmp_path, (), log=quiet):  # e.g. --mode test writing its report here
        assert (tmp_path / runs.LOCK_NAME).is_file()
    assert (tmp_path / "last.pt").is_file()


def test_stale_temp_files_of_a_killed_write_are_removed(tmp_path):
    (tmp_path / ".last.ckpt.k2j4h1xz.tmp").write_bytes(b"half a checkpoint")
    (tmp_path / "keep.tmp").write_text("not ours: no leading dot")
    messages = []
    with claim_run_folder(tmp_path, FILES, log=messages.append):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.tmp"]
    assert any("temporary file" in m for m in messages)


def test_overwrite_keeps_the_old_run_until_the_new_one_completes(tmp_path):
    patterns = ("last.pt", "history.json")
    (tmp_path / "last.pt").write_text("old weights")
    (tmp_path / "history.json").write_text("old history")
    with pytest.raises(ValueError, match="bad data"):
        with claim_run_folder(tmp_path, patterns, overwrite=True, log=lambda *_: None):
            assert not (tmp_path / "last.pt").exists()  # set aside: the folder never mixes two runs
            (tmp_path / "last.pt").write_text("half a new run")
            raise ValueError("bad data")
    assert (tmp_path / "last.pt").read_text() == "old weights" and not (tmp_path / ".previous-run").exists()
    with claim_run_folder(tmp_path, patterns, overwrite=True, log=lambda *_: None):
        (tmp_path / "last.pt").write_text("new weights")
    assert (tmp_path / "last.pt").read_text() == "new weights"
    assert not (tmp_path / "history.json").exists() and not (tmp_path / ".previous-run").exists()


def test_an_overwrite_killed_outright_is_undone_by_the_next_claim(tmp_path):
    """kill -9 leaves the old files in .previous-run/ and a partial new run: the next claim puts them back."""
    aside = tmp_path / ".previous-run"
    aside.mkdir()
    (aside / "last.pt").write_text("old weights")
    (tmp_path / "last.pt").write_text("partial new run")
    messages = []
    with claim_run_folder(tmp_path, ("last.pt",), resuming=True, log=messages.append):
        assert (tmp_path / "last.pt").read_text() == "old weights"
    assert not aside.exists() and any("previous run's files are back" in m for m in messages)


def test_overwrite_moves_links_and_never_follows_them(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.pt").write_text("not the kit's")
    run = tmp_path / "run"
    run.mkdir()
    (run / "last.pt").symlink_to(outside / "precious.pt")
    with claim_run_folder(run, ("last.pt",), overwrite=True, log=lambda *_: None):
        (run / "last.pt").write_text("new")
    assert (outside / "precious.pt").read_text() == "not the kit's" and (run / "last.pt").read_text() == "new"
