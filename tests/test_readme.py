"""The README's three commands are the ones CI runs."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def three_commands():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Three commands", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line.strip() for line in block.splitlines() if line.strip()]


def test_readme_gives_install_main_job_and_tests():
    install, main_job, tests = three_commands()
    assert install == 'pip install -e ".[dev]"'
    assert main_job == "python -m sagan_lib --mode demo"
    assert tests == "pytest"


def test_ci_runs_the_readme_install_and_test_commands():
    install, _, tests = three_commands()
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert install in ci_lines and tests in ci_lines
    assert ci_lines.index(install) < ci_lines.index(tests)
