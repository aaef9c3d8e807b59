"""Colab's widgets: does the course work with the ipywidgets that Colab preinstalls (7.7.1)?

Run it with the Python of an environment set up like Colab's (see colab_py313_check.sh):

    python benchmarks/colab_widgets_check.py [--all]

It checks that installing the kit kept ipywidgets 7.7.1, then runs notebook 10 in a
kernel that imported ipywidgets before the setup cell (as Colab's kernel may) and
clicks through the quiz: reveal, "I had it", "I missed it", and checks the score. With
--all it also builds the smoke-mode site, which executes every notebook (60 s per cell).
Prints what it saw; exits 1 if a check fails.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BEFORE_SETUP = "import ipywidgets\nprint('ipywidgets before the setup cell:', ipywidgets.__version__)"
CLICK_THROUGH = """\
menu_row, card, buttons = quiz.children
reveal, had_it, missed_it = buttons.children
reveal.click()
assert "<b>A.</b>" in card.value, card.value
had_it.click()
missed_it.click()
score = menu_row.children[1].value
assert "score: 1 of 2" in score, score
print("quiz after two answers:", score)
"""


def run_quiz_notebook() -> list[str]:
    """Notebook 10 with ipywidgets imported first and the quiz clicked: the lines it printed."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(ROOT / "notebooks" / "10_interview_quickref.ipynb", as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(BEFORE_SETUP))
    notebook.cells.append(nbformat.v4.new_code_cell(CLICK_THROUGH))
    NotebookClient(notebook, timeout=60, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    printed = [output.get("text", "") for output in notebook.cells[0].outputs + notebook.cells[-1].outputs]
    quiz_cell = next(cell for cell in notebook.cells if "show_widget(quiz" in cell.source)
    kinds = sorted(kind for output in quiz_cell.outputs for kind in output.get("data", {}))
    printed.append(f"quiz cell output: {kinds}")
    return printed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--all", action="store_true", help="also execute every notebook (the smoke site)")
    args = parser.parse_args(argv)
    import ipywidgets

    print(f"python {sys.version.split()[0]}, ipywidgets {ipywidgets.__version__}")
    if ipywidgets.__version__ != "7.7.1":
        print("FAILED: ipywidgets is no longer Colab's 7.7.1")
        return 1
    for line in run_quiz_notebook():
        print(line.strip())
    if args.all:
        from anomaly_lib.site import build_site

        pages = build_site(Path(tempfile.mkdtemp()) / "site", smoke=True)
        failed = [page for page in pages if page.error]
        print(f"{len(pages) - len(failed)} of {len(pages)} notebooks ran under nbclient (60 s per cell)")
        if failed:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
