"""Static checks of the course notebooks (nothing is executed here; nbval runs them).

Every `notebooks/NAME.ipynb` must
  * have a py:percent twin `NAME.py` with the same cells (jupytext pairing);
  * be stored without outputs, execution counts or widget state;
  * open with a markdown cell holding its "Open in Colab" and "Read it rendered"
    badges, then the shared setup cell, both exactly as `anomaly_lib.colab` makes them;
  * name the python3 kernel in its metadata, so Jupyter opens it without asking.
Notebooks 01-09 (and later ones) end with exercises whose solutions are hidden
(see `exercise_problems`). A canary checks that pytest runs the notebooks in
smoke mode, and `python -m anomaly_lib colab` is tried on a temporary copy of the kit.
tests/test_site.py executes every notebook (once, for the rendered course).
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
from pathlib import Path

import jupytext
import pytest

from anomaly_lib import colab
from anomaly_lib.__main__ import main as anomaly_lib_main

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
EXPECTED_NOTEBOOKS = [
    "00_start_here",
    "01_data_and_synthetic_anomalies",
    "02_sagan_windows_and_position_codes",
    "03_sagan_generator_shape_by_shape",
    "04_sagan_critic_and_losses",
    "05_sagan_training",
    "06_sagan_scoring_and_heatmaps",
    "07_swssl_sliding_windows_and_augmentations",
    "08_swssl_model_and_twin_loss",
    "09_swssl_training_and_scoring",
    "10_interview_quickref",
    "11_does_it_beat_a_baseline",
]
NOTEBOOK_PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
# 00 (start here) and 10 (interview companion) are not lessons with exercises.
WITHOUT_EXERCISES = {"00_start_here", "10_interview_quickref"}


def notebook_params():
    return [pytest.param(path, id=path.stem) for path in NOTEBOOK_PATHS]


def pair_differences(ipynb_path: Path, py_path: Path) -> list[str]:
    """How a notebook and its py:percent twin disagree, as readable lines; [] when they agree.

    Both files are read with jupytext; their cells are compared by type and
    source, character for character.
    """
    if not py_path.exists():
        return [f"{py_path.name} is missing: create it with `jupytext --sync {ipynb_path.name}`"]
    stored = jupytext.read(ipynb_path)
    text = jupytext.read(py_path, fmt="py:percent")
    problems = []
    if len(stored.cells) != len(text.cells):
        problems.append(f"{ipynb_path.name} has {len(stored.cells)} cells, {py_path.name} has {len(text.cells)}")
    for index, (a, b) in enumerate(zip(stored.cells, text.cells)):
        if a.cell_type != b.cell_type:
            problems.append(f"cell {index}: {a.cell_type} in the .ipynb, {b.cell_type} in the .py")
        elif a.source != b.source:
            diff = difflib.unified_diff(
                a.source.splitlines(), b.source.splitlines(), ".ipynb", ".py", lineterm="", n=0
            )
            problems.append(f"cell {index} differs:\n" + "\n".join(diff))
    return problems


def cells_of_type(notebook, cell_type: str) -> list:
    return [cell for cell in notebook.cells if cell.cell_type == cell_type]


# ---------------------------------------------------------------------------- each notebook


@pytest.mark.parametrize("ipynb_path", notebook_params())
def test_pair_agrees(ipynb_path):
    problems = pair_differences(ipynb_path, ipynb_path.with_suffix(".py"))
    assert not problems, (
        f"{ipynb_path.name} and its .py twin have drifted apart; after editing one, run "
        f"`jupytext --sync notebooks/{ipynb_path.name}`.\n" + "\n".join(problems)
    )


@pytest.mark.parametrize("ipynb_path", notebook_params())
def test_stored_without_outputs(ipynb_path):
    raw = json.loads(ipynb_path.read_text(encoding="utf-8"))
    for index, cell in enumerate(raw["cells"]):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"cell {index} of {ipynb_path.name} has stored outputs"
            assert cell.get("execution_count") is None, f"cell {index} of {ipynb_path.name} has an execution count"
    assert "widgets" not in raw.get("metadata", {}), f"{ipynb_path.name} stores widget state"


@pytest.mark.parametrize("ipynb_path", notebook_params())
def test_title_badge_and_setup_cell(ipynb_path):
    name = ipynb_path.stem
    notebook = jupytext.read(ipynb_path)
    first = notebook.cells[0]
    assert first.cell_type == "markdown", f"{ipynb_path.name} must open with a markdown cell"
    number = name.split("_")[0]
    assert first.source.startswith(f"# {number} "), f"{ipynb_path.name}: the first line should be '# {number} · Title'"
    assert colab.badges(name) in first.source, (
        f"{ipynb_path.name}: the first markdown cell lacks its badges {colab.badges(name)}"
    )
    code_cells = cells_of_type(notebook, "code")
    assert code_cells, f"{ipynb_path.name} has no code cell"
    assert code_cells[0].source == colab.setup_cell(), (
        f"{ipynb_path.name}: the first code cell must be exactly anomaly_lib.colab.setup_cell()"
    )


@pytest.mark.parametrize("ipynb_path", notebook_params())
def test_kernelspec(ipynb_path):
    kernelspec = json.loads(ipynb_path.read_text(encoding="utf-8"))["metadata"].get("kernelspec", {})
    assert kernelspec.get("name") == "python3" and kernelspec.get("language") == "python", (
        f"{ipynb_path.name} lacks metadata.kernelspec for python3, so Jupyter asks for a kernel on opening"
    )


def test_set_of_notebooks():
    found = sorted(path.stem for path in NOTEBOOK_PATHS)
    unexpected = sorted(set(found) - set(EXPECTED_NOTEBOOKS))
    assert not unexpected, f"notebooks not in the course plan: {unexpected}"
    missing = sorted(set(EXPECTED_NOTEBOOKS) - set(found))
    assert not missing, f"notebooks missing: {missing}"


def test_no_orphan_py_twins():
    orphans = [path.name for path in NOTEBOOKS.glob("*.py") if not path.with_suffix(".ipynb").exists()]
    assert not orphans, f"py twins without an .ipynb (run `jupytext --sync` on them): {orphans}"


def test_readme_table_has_every_badge():
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8") if readme.exists() else ""
    table_rows = [line for line in text.splitlines() if line.lstrip().startswith("|")]
    missing = [path.stem for path in NOTEBOOK_PATHS if not any(colab.badges(path.stem) in row for row in table_rows)]
    assert not missing, f"README.md's notebook table lacks the badges of: {missing}"


def test_smoke_mode_canary():
    """The root conftest.py sets KIT_SMOKE=1 so that nbval runs the notebooks small and fast."""
    assert os.environ.get("KIT_SMOKE") == "1", (
        "KIT_SMOKE is not 1 under pytest: the notebooks would run at full size. "
        "The repository's conftest.py must set os.environ['KIT_SMOKE'] = '1'."
    )


# ---------------------------------------------------------------------------- exercises

EXERCISES_HEADING = re.compile(r"^## (\d+\. )?Exercises\s*$", re.MULTILINE)
EXERCISE_HEADING = re.compile(r"^### Exercise (\d+)\b", re.MULTILINE)
SOLUTION_TITLE = re.compile(r"^# @title Solution to exercise (\d+)\b")

DETAILS_SOLUTION = re.compile(r"<details>\s*<summary>[^<]*Solution[^<]*</summary>", re.IGNORECASE)


SOLUTION_CALL = re.compile(r'^run_solution\("(\d\d)", (\d+)\)$')


def solution_call(source: str):
    """The `run_solution("NN", N)` match of a solution cell whose only line after `# @title` is that call."""
    lines = [line for line in source.split("\n")[1:] if line.strip()]
    return SOLUTION_CALL.match(lines[0]) if len(lines) == 1 else None


def is_hidden_solution(cell) -> bool:
    """A code cell that Colab (cellView form) and Jupyter (source_hidden) show collapsed."""
    metadata = cell.get("metadata", {})
    return (
        metadata.get("cellView") == "form"
        and metadata.get("jupyter", {}).get("source_hidden") is True
        and "solution" in metadata.get("tags", [])
    )


def exercise_problems(notebook, name: str, solutions: Path = None) -> list[str]:
    """What is wrong with a notebook's exercises; [] when they follow the convention.

    * one markdown heading `## Exercises` (optionally numbered), with 3-5
      exercises after it, each a markdown heading `### Exercise N`, N = 1, 2, ...;
    * every exercise has a solution before the next one: a markdown
      `<details><summary>Solution ...</summary> ... </details>` block, or a code
      cell with metadata cellView="form", jupyter.source_hidden=true and the tag
      "solution", whose first line is `# @title Solution to exercise N ...` and whose
      only other line is `run_solution("NN", N)`: the code lives in
      `notebooks/solutions/NN_*.py` (so no reader of the notebook file sees it), and
      code and output are shown folded when it runs;
    * at least one solution is code, so the tests run it.

    `solutions`, when given, is the folder where each called solution must be found.
    """
    cells = notebook.cells
    starts = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and EXERCISES_HEADING.search(c.source)]
    if len(starts) != 1:
        return [f"{name}: expected one markdown heading '## Exercises', found {len(starts)}"]
    problems, exercises, code_solutions = [], [], 0
    for cell in cells[starts[0]:]:
        if cell.cell_type == "markdown":
            for match in EXERCISE_HEADING.finditer(cell.source):
                exercises.append({"number": int(match.group(1)), "solutions": 0})
            if exercises and DETAILS_SOLUTION.search(cell.source):
                if "</details>" not in cell.source:
                    problems.append(f"{name}: exercise {exercises[-1]['number']} opens <details> without closing it")
                exercises[-1]["solutions"] += 1
        elif "solution" in cell.get("metadata", {}).get("tags", []) or SOLUTION_TITLE.match(cell.source):
            title = SOLUTION_TITLE.match(cell.source)
            if not is_hidden_solution(cell):
                problems.append(
                    f"{name}: a solution cell must have metadata cellView='form', "
                    "jupyter.source_hidden=true and tags=['solution']"
                )
            if title is None:
                problems.append(f"{name}: a solution cell must start with '# @title Solution to exercise N'")
            elif (call := solution_call(cell.source)) is None or call.group(2) != title.group(1):
                problems.append(f"{name}: solution {title.group(1)}'s cell must hold only "
                                f"'run_solution(\"NN\", {title.group(1)})' after its title")
            elif not exercises or int(title.group(1)) != exercises[-1]["number"]:
                problems.append(f"{name}: solution to exercise {title.group(1)} is not under its exercise")
            elif solutions is not None and not _solution_found(solutions, call.group(1), int(call.group(2))):
                problems.append(f"{name}: solution {title.group(1)} calls {call.group(0)}, which "
                                f"{solutions} does not hold")
            elif is_hidden_solution(cell):
                exercises[-1]["solutions"] += 1
                code_solutions += 1
    numbers = [exercise["number"] for exercise in exercises]
    if not 3 <= len(exercises) <= 5:
        problems.append(f"{name}: {len(exercises)} exercises; the course asks for 3 to 5")
    if numbers != list(range(1, len(numbers) + 1)):
        problems.append(f"{name}: exercises are numbered {numbers}, expected 1, 2, 3, ...")
    problems += [f"{name}: exercise {e['number']} has no hidden solution" for e in exercises if not e["solutions"]]
    if exercises and not code_solutions:
        problems.append(f"{name}: no exercise has a code solution, so the tests run none")
    return problems


@pytest.mark.parametrize(
    "ipynb_path", [p for p in notebook_params() if p.values[0].stem not in WITHOUT_EXERCISES]
)
def test_exercises_with_hidden_solutions(ipynb_path):
    notebook = jupytext.read(ipynb_path)
    problems = exercise_problems(notebook, ipynb_path.name, NOTEBOOKS / colab.SOLUTIONS)
    calls = {call.group(1) for cell in notebook.cells if (call := solution_call(cell.source))}
    assert calls <= {ipynb_path.name[:2]}, f"{ipynb_path.name} runs another notebook's solutions: {calls}"
    assert not problems, "\n".join(problems)


def _solution_found(folder: Path, notebook: str, number: int) -> bool:
    try:
        colab.solution_source(notebook, number, folders=[folder])
    except (FileNotFoundError, LookupError):
        return False
    return True


def test_every_solution_in_the_solutions_folder_is_called():
    """No orphan: each `# %% Solution to exercise N` section of notebooks/solutions/NN_name.py has its
    notebook NN_name.ipynb, whose cells call it."""
    for path in sorted((NOTEBOOKS / colab.SOLUTIONS).glob("*.py")):
        notebook = NOTEBOOKS / f"{path.stem}.ipynb"
        assert notebook.exists(), f"{path.name} has no notebook {notebook.name}"
        called = {int(call.group(2)) for cell in jupytext.read(notebook).cells if (call := solution_call(cell.source))}
        sections = {int(number) for number in colab.SOLUTION_HEADER.findall(path.read_text(encoding="utf-8"))}
        assert sections == called, f"{path.name} holds solutions {sorted(sections)}; {notebook.name} calls {sorted(called)}"


# ---------------------------------------------------------------------------- the checks catch problems

SAMPLE_PY = f"""\
# %% [markdown]
# # 00 · Sample
#
# {colab.badges("00_sample")}

# %%
{colab.setup_cell()}

# %% [markdown]
# A short note.

# %%
print(1 + 1)
"""


@pytest.fixture
def sample_pair(tmp_path):
    """A small notebook pair in a temporary notebooks/ folder: (ipynb, py)."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    py_path = folder / "00_sample.py"
    py_path.write_text(SAMPLE_PY, encoding="utf-8")
    return colab.sync_ipynb_from_py(py_path), py_path


def test_pair_check_catches_a_one_character_drift(sample_pair, tmp_path):
    ipynb_path, py_path = sample_pair
    assert pair_differences(ipynb_path, py_path) == []
    # The same on a copy of a real pair, if one exists yet.
    if NOTEBOOK_PATHS:
        real = NOTEBOOK_PATHS[0]
        copy = tmp_path / real.name
        shutil.copy(real, copy)
        shutil.copy(real.with_suffix(".py"), copy.with_suffix(".py"))
        assert pair_differences(copy, copy.with_suffix(".py")) == []
        pairs = [(ipynb_path, py_path), (copy, copy.with_suffix(".py"))]
    else:
        pairs = [(ipynb_path, py_path)]
    for ipynb, py in pairs:
        original = py.read_text(encoding="utf-8")
        lines = original.splitlines(keepends=True)
        # change the last character of the last code line
        last = max(i for i, line in enumerate(lines) if len(line.strip()) > 1 and not line.startswith("#"))
        text = lines[last].rstrip()
        lines[last] = text[:-1] + ("x" if text[-1] != "x" else "y") + lines[last][len(text):]
        py.write_text("".join(lines), encoding="utf-8")
        problems = pair_differences(ipynb, py)
        assert len(problems) == 1 and "differs" in problems[0], problems
        py.write_text(original, encoding="utf-8")
        assert pair_differences(ipynb, py) == []


def test_pair_check_catches_a_changed_cell_type_and_a_missing_twin(sample_pair):
    ipynb_path, py_path = sample_pair
    text = py_path.read_text(encoding="utf-8")
    py_path.write_text(text.replace("# %% [markdown]\n# A short note.", "# %%\n# A short note."), encoding="utf-8")
    assert any("markdown in the .ipynb, code in the .py" in problem for problem in pair_differences(ipynb_path, py_path))
    py_path.unlink()
    assert "missing" in pair_differences(ipynb_path, py_path)[0]


# ---------------------------------------------------------------------------- python -m anomaly_lib colab


def make_kit_copy(root: Path) -> Path:
    """A temporary kit with colab.py, one notebook pair and a README with a badge table."""
    (root / "anomaly_lib").mkdir(parents=True)
    shutil.copy(ROOT / "anomaly_lib" / "colab.py", root / "anomaly_lib" / "colab.py")
    (root / "notebooks").mkdir()
    py_path = root / "notebooks" / "00_sample.py"
    py_path.write_text(SAMPLE_PY, encoding="utf-8")
    colab.sync_ipynb_from_py(py_path)
    (root / "README.md").write_text(
        "# Kit\n\n| notebook | purpose |\n|---|---|\n"
        f"| {colab.badges('00_sample')} | a sample |\n\n"
        f"git clone https://github.com/{colab.GITHUB_REPO}\n",
        encoding="utf-8",
    )
    return root


def test_set_repository_rewrites_every_place(tmp_path):
    root = make_kit_copy(tmp_path / "kit")
    watched = [ROOT / "anomaly_lib" / "colab.py", ROOT / "README.md", *NOTEBOOKS.glob("*.py"), *NOTEBOOKS.glob("*.ipynb")]
    real_files = {path: path.read_bytes() for path in watched if path.is_file()}
    ids_before = [cell.get("id") for cell in jupytext.read(root / "notebooks" / "00_sample.ipynb").cells]
    changed = colab.set_repository("someone/my-fork", root=root)

    names = sorted(path.relative_to(root).as_posix() for path in changed)
    assert names == ["README.md", "anomaly_lib/colab.py", "notebooks/00_sample.ipynb", "notebooks/00_sample.py"]
    assert 'GITHUB_REPO = "someone/my-fork"' in (root / "anomaly_lib" / "colab.py").read_text()
    notebook = jupytext.read(root / "notebooks" / "00_sample.ipynb")
    assert colab.badges("00_sample", repo="someone/my-fork") in notebook.cells[0].source
    assert cells_of_type(notebook, "code")[0].source == colab.setup_cell(repo="someone/my-fork")
    assert [cell.get("id") for cell in notebook.cells] == ids_before
    assert pair_differences(root / "notebooks" / "00_sample.ipynb", root / "notebooks" / "00_sample.py") == []
    raw = json.loads((root / "notebooks" / "00_sample.ipynb").read_text())
    assert all(cell.get("outputs", []) == [] for cell in raw["cells"])
    readme = (root / "README.md").read_text()
    assert colab.badges("00_sample", repo="someone/my-fork") in readme
    assert "https://someone.github.io/my-fork/00_sample.html" in readme
    assert "github.com/someone/my-fork" in readme and colab.GITHUB_REPO not in readme
    # the real repository was not touched
    assert all(path.read_bytes() == content for path, content in real_files.items())
    # a second run has nothing to do
    assert colab.set_repository("someone/my-fork", root=root) == []


def test_colab_command_line(tmp_path, capsys):
    root = make_kit_copy(tmp_path / "kit")
    assert anomaly_lib_main(["colab", "--repo", "someone/fork", "--root", str(root)]) == 0
    assert "changed 4 files" in capsys.readouterr().out
    assert 'GITHUB_REPO = "someone/fork"' in (root / "anomaly_lib" / "colab.py").read_text()
    assert anomaly_lib_main(["colab", "--repo", "not a repo", "--root", str(root)]) == 2
    assert "OWNER/REPO" in capsys.readouterr().err


def test_colab_py_names_the_repository_once():
    text = (ROOT / "anomaly_lib" / "colab.py").read_text(encoding="utf-8")
    assert len(re.findall(r'^GITHUB_REPO = "[^"]+"$', text, flags=re.MULTILINE)) == 1


def test_enable_widgets_is_a_no_op_outside_colab():
    assert colab.enable_widgets() is False


def test_widget_bundle_works_with_the_installed_ipywidgets():
    """Built by hand, so ipywidgets 7 (Colab's, no _repr_mimebundle_) and 8 give the same bundle."""
    widgets = pytest.importorskip("ipywidgets")
    slider = widgets.IntSlider(3)
    bundle = colab.widget_bundle(slider, "a slider at 3", "<p>a slider at 3</p>")
    assert bundle[colab.WIDGET_VIEW] == {"version_major": 2, "version_minor": 0, "model_id": slider.model_id}
    assert bundle["text/plain"] == "a slider at 3" and bundle["text/html"] == "<p>a slider at 3</p>"
    assert colab.widgets_major_version() == int(widgets.__version__.split(".")[0])


def test_hidden_solution_folds_prints_and_figures_in_order():
    from IPython.core.displaypub import CapturingDisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        shell.display_pub = CapturingDisplayPublisher()
        result = shell.run_cell(
            "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
            "from IPython.display import HTML, display\n"
            "from anomaly_lib.colab import hidden_solution\n"
            "with hidden_solution():\n"
            "    print('the answer is 42')\n"
            "    display(HTML('<b>a table</b>'))\n"
            "    plt.plot([1, 2])\n"
            "    print('Reading: because')\n"
        )
        assert result.success
        outputs = shell.display_pub.outputs
        assert len(outputs) == 1, outputs
        html = outputs[0]["data"]["text/html"]
        assert html.startswith('<details class="solution">') and html.endswith("</details>")
        order = [html.index(part) for part in ("the answer is 42", "<b>a table</b>", "Reading: because",
                                               "data:image/png;base64,")]
        assert order == sorted(order)  # printed and displayed in order; the open figure last
        assert "the answer is 42" in outputs[0]["data"]["text/plain"]
        import matplotlib.pyplot as plt

        assert plt.get_fignums() == []  # the figure went into the block, not after the cell
    finally:
        InteractiveShell.clear_instance()


def test_hidden_solution_outside_a_notebook_just_runs(capsys):
    with colab.hidden_solution():
        print("visible")
    assert capsys.readouterr().out == "visible\n"


SAMPLE_SOLUTIONS = """\
\"\"\"Solutions of a made-up notebook 99.\"\"\"

# %% Solution to exercise 1
answer = base * 2
print("answer", answer)

# %% Solution to exercise 2
raise ValueError("on line 8 of the file")
"""


def test_run_solution_runs_its_section_in_the_notebook_and_folds_code_and_output(tmp_path, monkeypatch):
    from IPython.core.displaypub import CapturingDisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell

    (tmp_path / colab.SOLUTIONS).mkdir()
    path = tmp_path / colab.SOLUTIONS / "99_sample.py"
    path.write_text(SAMPLE_SOLUTIONS, encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # a notebook's kernel runs in the notebook's folder
    shell = InteractiveShell.instance()
    try:
        shell.display_pub = CapturingDisplayPublisher()
        assert shell.run_cell("from anomaly_lib.colab import run_solution\nbase = 21\nrun_solution('99', 1)").success
        assert shell.user_ns["answer"] == 42  # it ran with the notebook's variables, and left its own there
        (output,) = shell.display_pub.outputs
        html, text = output["data"]["text/html"], output["data"]["text/plain"]
        assert html.startswith('<details class="solution">') and html.endswith("</details>")
        assert "Show the solution to exercise 1" in html and "answer 42" in html
        assert text.index("answer = base * 2") < text.index("answer 42")  # the code, then what it printed
        failed = shell.run_cell("run_solution('99', 2)")
        frame = failed.error_in_exec.__traceback__
        while frame.tb_next:
            frame = frame.tb_next
        assert (frame.tb_frame.f_code.co_filename, frame.tb_lineno) == (str(path), 8)  # the traceback names the file
    finally:
        InteractiveShell.clear_instance()
    with pytest.raises(LookupError, match="no '# %% Solution to exercise 3' section"):
        colab.run_solution("99", 3)
    with pytest.raises(FileNotFoundError, match="no solutions for notebook 98"):
        colab.run_solution("98", 1)


EXERCISES_PY = """\
# %% [markdown]
# ## Exercises
#
# ### Exercise 1 · Predict a shape

# %% cellView="form" jupyter={"source_hidden": true} tags=["solution"]
# @title Solution to exercise 1 (run it: the answer stays folded until you open it)
run_solution("99", 1)

# %% [markdown]
# ### Exercise 2 · Explain why
#
# <details><summary>Solution</summary>
#
# Because.
#
# </details>

# %% [markdown]
# ### Exercise 3 · Change a parameter

# %% cellView="form" jupyter={"source_hidden": true} tags=["solution"]
# @title Solution to exercise 3
run_solution("99", 3)
"""


def test_exercise_check_accepts_the_convention_and_catches_breaks():
    good = jupytext.reads(EXERCISES_PY, fmt="py:percent")
    assert exercise_problems(good, "good") == []
    visible = jupytext.reads(EXERCISES_PY.replace(' jupyter={"source_hidden": true}', "", 1), fmt="py:percent")
    assert any("source_hidden" in problem for problem in exercise_problems(visible, "visible"))
    two = jupytext.reads(EXERCISES_PY.split("# %% [markdown]\n# ### Exercise 3")[0], fmt="py:percent")
    assert any("2 exercises" in problem for problem in exercise_problems(two, "two"))
    unsolved = jupytext.reads(EXERCISES_PY.replace("<details><summary>Solution</summary>", "Think."), fmt="py:percent")
    assert any("exercise 2 has no hidden solution" in problem for problem in exercise_problems(unsolved, "unsolved"))
    misplaced = jupytext.reads(EXERCISES_PY.replace("Solution to exercise 3", "Solution to exercise 1")
                               .replace('run_solution("99", 3)', 'run_solution("99", 1)'), fmt="py:percent")
    assert any("not under its exercise" in problem for problem in exercise_problems(misplaced, "misplaced"))
    inline = jupytext.reads(EXERCISES_PY.replace('run_solution("99", 1)', "print((2, 3))"), fmt="py:percent")
    assert any("must hold only 'run_solution" in problem for problem in exercise_problems(inline, "inline"))
    extra = jupytext.reads(EXERCISES_PY.replace('run_solution("99", 3)', 'run_solution("99", 3)\nprint(3)'),
                           fmt="py:percent")
    assert any("must hold only 'run_solution" in problem for problem in exercise_problems(extra, "extra"))
    wrong_number = jupytext.reads(EXERCISES_PY.replace('run_solution("99", 3)', 'run_solution("99", 1)'),
                                  fmt="py:percent")
    assert any("must hold only 'run_solution" in problem for problem in exercise_problems(wrong_number, "wrong"))
    assert any("does not hold" in problem for problem in exercise_problems(good, "good", Path("/nonexistent")))
    no_heading = jupytext.reads(EXERCISES_PY.replace("## Exercises", "## Practice"), fmt="py:percent")
    assert "expected one markdown heading" in exercise_problems(no_heading, "no_heading")[0]
