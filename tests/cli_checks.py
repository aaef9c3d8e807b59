"""Helpers for tests of the command lines: run one, and check a one-line error."""


def run_cli(main, argv, capsys) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of ``main(argv)``."""
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code, err, *fragments):
    """Status 1, an ``error: …`` line without a traceback, naming every fragment."""
    assert code == 1, err
    assert err.startswith("error: ") and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
