"""Files the kit reads and writes: paths from files stay inside their folders, writes say when the disk is full.

* **Paths that come from a file** (an entry of a ``data.json``, a row of a CSV, a manifest, a
  list stored with a checkpoint) name files inside one folder. ``inside`` refuses an entry that
  leaves it: an absolute path (``/etc/passwd``), or one whose ``..`` climbs out
  (``../../outside/x.png``). A symbolic link inside the folder that leads out of it is refused
  too, unless ``follow_symlinks=True`` (``--follow_symlinks`` on the command lines) says the
  user trusts the data. Every refusal is one line naming the file and the entry. A reader
  of a long list builds one ``Folder`` and checks each entry with ``Folder.entry``.
* **Something that is not a regular file** (a FIFO, a device, a socket) is refused by
  ``regular_file`` before it is opened: reading a FIFO waits for a writer forever.
* **A folder is replaced whole**: the new one is written beside it and ``swap_folder`` puts
  it in the old one's place with two renames, then deletes the old one (never following links).
* **A full disk** raises ``DiskFullError``, ``no space left on device while writing FILE``,
  from inside ``writing(path)``, whatever library did the writing (torch's own message on a
  full disk is ``unexpected pos …``; the ENOSPC ``OSError`` is only found in its context).
"""

from __future__ import annotations

import contextvars
import errno
import os
import shutil
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


# What a Folder built without an explicit choice does with links out: the command lines set it
# from --follow_symlinks for the whole command (``following_symlinks``), so every reader obeys.
_FOLLOW_SYMLINKS = contextvars.ContextVar("follow_symlinks", default=False)


@contextmanager
def following_symlinks(follow: bool = True):
    """Within the block, folders whose readers were not told otherwise follow links out of them."""
    token = _FOLLOW_SYMLINKS.set(follow)
    try:
        yield
    finally:
        _FOLLOW_SYMLINKS.reset(token)


def _is_within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


class Folder:
    """A folder that paths read from a file must stay inside (the rule of the module docstring).

    ``within``: further folders a link may lead into (e.g. the whole dataset, for a layout whose
    split folders hold links to each other); the folder itself always counts. Built once per
    list, so that a list of many entries costs about one ``lstat`` per entry. ``follow_symlinks``
    None: as the command line said (``following_symlinks``; refuse by default).
    """

    def __init__(self, folder, follow_symlinks: bool | None = None, within=()):
        self.path = Path(folder)
        self.follow_symlinks = _FOLLOW_SYMLINKS.get() if follow_symlinks is None else follow_symlinks
        self.normal = os.path.normpath(self.path)
        self.allowed = [os.path.realpath(place) for place in (self.path, *within)]

    def entry(self, entry, source) -> Path:
        """``folder / entry``, once ``entry`` (read from the file ``source``) is known to stay inside;
        not resolved, so names stay as listed. Raises ``OutsideFolderError`` (or ``ValueError``
        for an entry that cannot name a file)."""
        text = str(entry)
        if "\0" in text:
            raise ValueError(f"{source}: entry {text!r} holds a NUL character; it cannot name a file")
        if os.path.isabs(text):
            raise OutsideFolderError(f"{source}: entry {text!r} is an absolute path; entries must be relative "
                                     f"to {self.path} and stay inside it")
        path = self.path / text
        normal = os.path.normpath(path)
        if not _is_within(normal, self.normal):
            raise OutsideFolderError(f"{source}: entry {text!r} leads out of {self.path}; entries must stay "
                                     "inside it")
        if normal == self.normal:
            raise ValueError(f"{source}: entry {text!r} names the folder {self.path} itself, not a file in it")
        if not self.follow_symlinks and self._through_a_link(path, text):
            target = os.path.realpath(path)
            if not any(_is_within(target, place) for place in self.allowed):
                raise OutsideFolderError(f"{source}: entry {text!r} is a link to {target}, outside {self.path}; "
                                         "pass --follow_symlinks (follow_symlinks=True) to read it anyway")
        return path

    def _through_a_link(self, path: Path, text: str) -> bool:
        """Whether the entry's own parts pass a link (or a ``..``, which a link before it moves)."""
        parts = [part for part in text.split(os.sep) if part not in ("", ".")]
        if ".." in parts:
            return True
        current = str(self.path)
        for part in parts:
            current += os.sep + part
            if os.path.islink(current):
                return True
        return False


def inside(folder, entry, source, follow_symlinks: bool | None = None, within=()) -> Path:
    """``Folder(folder, follow_symlinks, within).entry(entry, source)``, for a single entry."""
    return Folder(folder, follow_symlinks, within).entry(entry, source)


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


def swap_folder(new, target, old) -> None:
    """Put the complete folder ``new`` in the place of ``target`` (if there is one), which moves to
    ``old`` and is then deleted; all three lie in one folder, so each move is one rename. If
    ``new`` cannot move in, ``target`` is put back. ``shutil.rmtree`` deletes links, not what they
    point to, so only the old folder's own files go."""
    new, target, old = Path(new), Path(target), Path(old)
    if not os.path.lexists(target):
        os.rename(new, target)
        return
    os.rename(target, old)
    try:
        os.rename(new, target)
    except OSError:
        os.rename(old, target)  # put the old result back
        raise
    shutil.rmtree(old)
