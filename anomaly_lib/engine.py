"""What every method's trainer and command line share, written once.

The methods used to disagree on three things; each is now one rule, the better of the two:

* a non-finite loss or gradient raises `TrainingDiverged` (SAGAN's name; SWSSL raised a bare
  ``FloatingPointError``). It subclasses ``FloatingPointError``, so code that caught that still does;
* ``--resume`` without a checkpoint is an error naming the missing file (SAGAN's rule; SWSSL
  quietly started afresh, which hides a mistyped folder: training starts from zero while you
  believe it resumed);
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
