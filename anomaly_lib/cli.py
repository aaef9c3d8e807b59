"""What the kit's command lines share: errors and warnings as one line each, tracebacks on request.

``python -m sagan_lib``, ``python -m swssl_lib`` and every ``python -m anomaly_lib``
subcommand run their work through ``run_command``.
A failure prints ``error: <what is wrong>`` on stderr and gives exit status 1; Ctrl-C prints
one line and gives 130 (the run folder's lock is released on the way out, see
``anomaly_lib.runs``). ``--debug`` lets the exception through with its full traceback.
Warnings print as ``warning: <message>``, each once.
"""

from __future__ import annotations

import sys
import warnings

# Errors whose message names the problem by itself; any other type is shown with its name.
EXPECTED_ERRORS = (ValueError, OSError, RuntimeError, ArithmeticError)


def add_debug_flag(parser) -> None:
    parser.add_argument("--debug", action="store_true",
                        help="on an error, show the full Python traceback instead of one line")


def describe_error(error: BaseException) -> str:
    """The one line shown for ``error``."""
    if isinstance(error, EXPECTED_ERRORS) and str(error):
        return str(error)
    return (f"{type(error).__name__}: {error} (unexpected; run again with --debug for the traceback, "
            "and please report it)")


def run_command(command, debug: bool = False, failure: int = 1) -> int:
    """Call ``command()`` and return the exit status: 0, ``failure`` on an error (1; the
    ``python -m anomaly_lib`` subcommands use 2), 130 on Ctrl-C."""
    shown = set()

    def show_warning(message, category, filename, lineno, file=None, line=None):
        text = str(message)
        if text not in shown:
            shown.add(text)
            print(f"warning: {text}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show_warning
        try:
            command()
            return 0
        except KeyboardInterrupt:
            if debug:
                raise
            print("interrupted: the checkpoints written so far are kept", file=sys.stderr)
            return 130
        except Exception as error:
            if debug:
                raise
            print(f"error: {describe_error(error)}", file=sys.stderr)
            return failure
