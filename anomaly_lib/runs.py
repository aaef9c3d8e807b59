"""One training run per folder: never overwrite another run, never share a folder with a second writer.

Both trainers (SAGAN's ``SaganTrainer.train``, SWSSL's ``fit``) and both command lines open
their checkpoint folder with ``claim_run_folder``, before any data is loaded:

* every output folder must be writable; this is tried at once, not at the first checkpoint;
* ``FOLDER/.lock`` holds the process id and machine name while a run writes there, and a
  second writer is refused. The lock goes when the run ends, also on an error or Ctrl-C; a
  lock left behind by a killed process is found stale (no such process on this machine) and
  replaced. A lock from another machine cannot be checked: it is taken over only when
  resuming (a Colab session that disconnected), otherwise refused;
* a folder that already holds a run (its checkpoint file exists) is refused unless the run is
  resumed from it, or ``overwrite`` is given. Then that run's files are set aside in
  ``FOLDER/.previous-run/`` (so the folder never mixes two runs) and deleted only when the new run
  completes; if it fails (bad data, a diverged loss, Ctrl-C), its files are removed and the old
  ones put back. A run killed outright leaves ``.previous-run/``: the next claim of the folder
  puts those files back first, so an interrupted ``--overwrite`` never costs the old results;
* temporary files of a checkpoint write that was killed half-way (``.NAME.*.tmp``, from
  ``atomic_save``) are deleted.

Under torchrun the run's processes are one writer: rank 0 claims the folder for all of them.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
from contextlib import contextmanager
from pathlib import Path

from . import distributed

LOCK_NAME = ".lock"
PREVIOUS_RUN = ".previous-run"  # where --overwrite keeps the old run's files until the new one completes
_held: dict[Path, int] = {}  # lock files this process holds → how many claims are open


class RunFolderError(RuntimeError):
    """A run folder cannot be used: not writable, in use by another run, or holding another run."""


def check_writable(folder) -> Path:
    """Create ``folder`` if needed and write a scratch file in it; ``RunFolderError`` if that fails."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        reason = error.strerror or str(error)
        raise RunFolderError(f"cannot write to the output folder {folder}: {reason}") from None
    return folder


def _process_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def _read_lock(path: Path) -> dict:
    try:
        holder = json.loads(path.read_text())
        return holder if isinstance(holder, dict) else {}
    except (OSError, ValueError):
        return {}


def acquire_lock(folder, resuming: bool = False, log=print) -> Path:
    """Take ``FOLDER/.lock`` for this process (claims by the same process nest); returns its path."""
    path = (Path(folder) / LOCK_NAME).resolve()
    if path in _held:
        _held[path] += 1
        return path
    me = {"pid": os.getpid(), "host": socket.gethostname()}
    for _ in range(3):
        try:
            descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            holder = _read_lock(path)
            pid, host = holder.get("pid"), holder.get("host")
            who = f"process {pid} on {host}"
            if host == me["host"] and isinstance(pid, int) and pid != me["pid"] and _process_running(pid):
                raise RunFolderError(
                    f"{path.parent} is in use by another run ({who}); two runs writing to one folder "
                    "would mix their files. Wait for it to finish, stop it, or choose another folder."
                ) from None
            if host not in (me["host"], None) and not resuming:
                raise RunFolderError(
                    f"{path.parent} is locked by {who}, another machine, whose process cannot be checked "
                    f"from here. If that run has stopped, delete {path} and try again."
                ) from None
            reason = "on another machine, taken over to resume" if host not in (me["host"], None) else \
                "which no longer runs"
            log(f"removing the stale lock {path} of {who} ({reason})")
            path.unlink(missing_ok=True)
            continue
        with os.fdopen(descriptor, "w") as lock_file:
            json.dump(me, lock_file)
        _held[path] = 1
        return path
    raise RunFolderError(f"could not take the lock {path}: another process keeps creating it")


def release_lock(path: Path) -> None:
    """Give back one claim on a lock from ``acquire_lock``; the last one deletes the file."""
    _held[path] -= 1
    if _held[path] == 0:
        del _held[path]
        if _read_lock(path).get("pid") == os.getpid():
            path.unlink(missing_ok=True)


def remove_stale_temp_files(folder, log=print) -> list[Path]:
    """Delete the ``.NAME.*.tmp`` files a killed ``atomic_save`` left in ``folder``."""
    stale = sorted(Path(folder).glob(".*.tmp"))
    for path in stale:
        path.unlink(missing_ok=True)
    if stale:
        log(f"removed {len(stale)} temporary file(s) of an interrupted checkpoint write in {folder}")
    return stale


def run_files(folder, patterns) -> list[Path]:
    """The files in ``folder`` matching any of the glob ``patterns``, each once, sorted."""
    return sorted({path for pattern in patterns for path in Path(folder).glob(pattern) if path.is_file()})


def refuse_other_run(folder, patterns, resuming: bool, overwrite: bool, log=print) -> Path | None:
    """Stop a new run from writing over an existing one (found by ``patterns[0]``, its checkpoint).

    With ``overwrite`` the old run's files (all ``patterns``) are moved into ``FOLDER/.previous-run``
    instead; returns that folder (None when nothing was set aside).
    """
    folder = Path(folder)
    if not patterns:
        return None
    checkpoint = folder / patterns[0]
    if resuming or not checkpoint.is_file():
        return None
    if not overwrite:
        raise RunFolderError(
            f"{folder} already holds a run ({checkpoint.name}). Add --resume to continue it, or "
            "--overwrite to delete it and start a new run there (Python: overwrite=True), "
            "or choose another folder."
        )
    old, aside = run_files(folder, patterns), folder / PREVIOUS_RUN
    aside.mkdir()
    for path in old:
        os.replace(path, aside / path.name)  # a link moves as a link: nothing is followed
    log(f"--overwrite: the previous run's {len(old)} file(s) in {folder} wait in {aside.name}/ until this run "
        "completes: " + ", ".join(path.name for path in old))
    return aside


def put_back_previous_run(folder, patterns, log=print) -> None:
    """An --overwrite run that did not complete: remove its files, put the previous run's back."""
    folder = Path(folder)
    aside = folder / PREVIOUS_RUN
    if aside.is_symlink() or not aside.is_dir():
        return
    for path in run_files(folder, patterns):
        path.unlink()
    for path in sorted(aside.iterdir()):
        os.replace(path, folder / path.name)
    aside.rmdir()
    log(f"the --overwrite run in {folder} did not complete: the previous run's files are back")


def finish_overwrite(aside: Path, log=print) -> None:
    """The new run completed: delete the previous run's files it replaced (links unlinked, not followed)."""
    names = sorted(path.name for path in aside.iterdir())
    for path in aside.iterdir():
        path.unlink()
    aside.rmdir()
    log(f"--overwrite: deleted the previous run's {len(names)} file(s) in {aside.parent}: {', '.join(names)}")


@contextmanager
def claim_run_folder(folder, patterns, resuming: bool = False, overwrite: bool = False,
                     other_folders=(), log=print):
    """Hold ``folder`` for one run (see the module docstring); yields the folder as a ``Path``.

    ``patterns``: glob patterns of the files a run writes there, its checkpoint first, e.g.
    ``("last.pt", "best.pt")``; empty for work that only writes results (testing), which takes
    the lock but starts no run. ``resuming``: this run continues from that checkpoint.
    ``other_folders`` are only checked for being writable.

    Under torchrun rank 0 claims the folder for every process: it alone checks, locks, refuses
    or overwrites, while the others wait; if its checks fail, every process stops with its error.
    """
    lock, aside = None, None
    try:
        with distributed.together():
            if distributed.is_main():
                lock, aside = _claim(folder, patterns, resuming, overwrite, other_folders, log)
        yield Path(folder)
        if aside is not None:
            finish_overwrite(aside, log)
    except BaseException:
        if aside is not None:
            put_back_previous_run(folder, patterns, log)
        raise
    finally:
        if lock is not None:
            release_lock(lock)


def _claim(folder, patterns, resuming: bool, overwrite: bool, other_folders, log) -> tuple[Path, Path | None]:
    """The checks of ``claim_run_folder``, in this process; returns the lock taken and the folder
    the previous run's files wait in (--overwrite), if any."""
    folder = check_writable(folder)
    for other in other_folders:
        check_writable(other)
    lock, aside = acquire_lock(folder, resuming, log), None
    try:
        if _held[lock] == 1:  # the outermost claim checks; nested ones (CLI → trainer) need not
            put_back_previous_run(folder, patterns, log)  # an --overwrite run that was killed outright
            aside = refuse_other_run(folder, patterns, resuming, overwrite, log)
            remove_stale_temp_files(folder, log)
    except BaseException:
        release_lock(lock)
        raise
    return lock, aside
