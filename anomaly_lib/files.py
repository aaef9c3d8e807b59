"""Files the kit reads and writes: paths from files stay inside their folders, writes say when the disk is full.

* **Paths that come from a file** (an entry of a ``data.json``, a row of a CSV, a manifest, a
  list stored with a checkpoint) name files inside one folder. ``inside`` refuses an entry that
  leaves it: an absolute path (``/etc/passwd``), or one whose ``..`` climbs out
  (``../../outside/x.png``). A symbolic link inside the folder that leads out of it is refused
  too, unless ``follow_symlinks=True`` (``--follow_symlinks`` on the command lines) says the
  user trusts the data. Every refusal is one line naming the file and the entry.
* **Something that is not a regular file** (a FIFO, a device, a socket) is refused by
  ``regular_file`` before it is opened: reading a FIFO waits for a writer forever.
* **A full disk** raises ``DiskFullError``, ``no space left on device while writing FILE``,
  from inside ``writing(path)``, whatever library did the writing (torch's own message on a
  full disk is ``unexpected pos …``; the ENOSPC ``OSError`` is only found in its context).
"""

from __future__ import annotations

import errno
import os
import stat
from contextlib import contextmanager
from pathlib import Path


class OutsideFolderError(ValueError):
    """A path read from a file leads out of the folder it must stay in."""


class DiskFullError(OSError):
    """No space left on the device while writing ``path`` (``errno`` is ENOSPC)."""

    def __init__(self, path):
        super().__init__(f"no space left on device while writing {path}")
        self.errno, self.path = errno.ENOSPC, Path(path)  # set after: the message stays one plain line

    def __reduce__(self):
        return type(self), (self.path,)


def _is_within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def inside(folder, entry, source, follow_symlinks: bool = False, within=()) -> Path:
    """``folder / entry``, after checking that ``entry`` (read from the file ``source``) stays inside.

    ``within``: further folders a link may lead into (e.g. the whole dataset, for a layout whose
    split folders hold links to each other); ``folder`` itself always counts. Raises
    ``OutsideFolderError``; the returned path is not resolved, so names stay as listed.
    """
    folder, text = Path(folder), str(entry)
    if "\0" in text:
        raise ValueError(f"{source}: entry {text!r} holds a NUL character; it cannot name a file")
    if Path(text).is_absolute():
        raise OutsideFolderError(f"{source}: entry {text!r} is an absolute path; entries must be relative "
                                 f"to {folder} and stay inside it")
    path = folder / text
    if not _is_within(os.path.normpath(path), os.path.normpath(folder)):
        raise OutsideFolderError(f"{source}: entry {text!r} leads out of {folder}; entries must stay inside it")
    if os.path.normpath(path) == os.path.normpath(folder):
        raise ValueError(f"{source}: entry {text!r} names the folder {folder} itself, not a file in it")
    if not follow_symlinks:
        target = os.path.realpath(path)
        allowed = [os.path.realpath(place) for place in (folder, *within)]
        if not any(_is_within(target, place) for place in allowed):
            raise OutsideFolderError(f"{source}: entry {text!r} is a link to {target}, outside {folder}; "
                                     "pass --follow_symlinks (follow_symlinks=True) to read it anyway")
    return path


def regular_file(path, what: str = "file") -> Path:
    """``path`` if it is missing or a regular file; a FIFO, device or socket is refused in one line."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return path
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or
                stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
        raise ValueError(f"{what} {path} is {kind}, not a regular file; the kit reads regular files only")
    return path


def _no_space(error: BaseException | None) -> bool:
    """Whether ``error`` or an error it was raised from is ENOSPC (disk full)."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            return True
        error = error.__cause__ or error.__context__
    return False


@contextmanager
def writing(path):
    """Within this block, a full disk raises ``DiskFullError`` naming ``path``; other errors pass."""
    try:
        yield
    except DiskFullError:
        raise
    except Exception as error:
        if _no_space(error):
            raise DiskFullError(path) from None
        raise


def write_bytes(path, data: bytes) -> Path:
    """``Path(path).write_bytes(data)`` that says so in one line when the disk is full."""
    path = Path(path)
    with writing(path):
        path.write_bytes(data)
    return path
