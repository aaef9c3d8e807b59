"""What every method's trainer and command line share, written once.

The methods used to disagree on three things; each is now one rule, the better of the two:

* a non-finite loss or gradient raises `TrainingDiverged` (SAGAN's name; SWSSL raised a bare
  ``FloatingPointError``). It subclasses ``FloatingPointError``, so code that caught that still does;
* ``--resume`` without a checkpoint is an error naming the missing file (SAGAN's rule; SWSSL
  quietly started afresh, which hides a mistyped folder: training starts from zero while you
  believe it resumed);
* ``--follow_symlinks``: a dataset whose files are links leading out of its folder is refused
  unless this flag is given, in every command line (``anomaly_lib.files``);
* progress bars: ``--progress/--no-progress`` (on by default) in every command line, with
  ``--quiet`` kept as the short form of ``--no-progress`` (SAGAN had only ``--quiet``, SWSSL only
  ``--progress/--no-progress``).
"""

from __future__ import annotations

import argparse
from pathlib import Path


class TrainingDiverged(FloatingPointError):
    """A loss or the gradients became NaN or infinite; the last good checkpoint is kept."""


def check_resume(resume: bool, checkpoint) -> bool:
    """``--resume`` needs ``checkpoint`` to exist (FileNotFoundError naming it); returns ``resume``."""
    if resume and not Path(checkpoint).is_file():
        raise FileNotFoundError(f"--resume: no checkpoint to resume from at {checkpoint}")
    return resume


def add_progress_flags(parser) -> None:
    """``--progress/--no-progress`` (default on) and ``--quiet`` (= ``--no-progress``), into ``args.progress``."""
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                        help="progress bars (default: on)")
    parser.add_argument("--quiet", dest="progress", action="store_false", help="no progress bars (= --no-progress)")


def add_follow_symlinks_flag(parser) -> None:
    """``--follow_symlinks``: read dataset files that are links leading out of the dataset's folder."""
    parser.add_argument("--follow_symlinks", "--follow-symlinks", dest="follow_symlinks", action="store_true",
                        help="read dataset entries that are links leading out of the dataset folder "
                             "(refused by default: a path from data.json or a split folder stays inside it)")
