"""Where the kit lives on GitHub, and the first cells every notebook shares.

`GITHUB_REPO` is the one place that names the repository. The notebooks'
"Open in Colab" badges and their setup cells are made from it. For a fork, run
`python -m anomaly_lib colab --repo OWNER/REPO` from the repository's top
folder: it rewrites this line, every notebook's badge and setup cell (both
twins), and the README's links (see `set_repository`).
"""

import re
import sys
from pathlib import Path

GITHUB_REPO = "anomaly-course-kit/anomaly-course-kit"
BRANCH = "main"
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"


def colab_url(notebook: str, repo: str = GITHUB_REPO) -> str:
    """The Colab address of `notebooks/<notebook>.ipynb` on GitHub."""
    name = notebook if notebook.endswith(".ipynb") else notebook + ".ipynb"
    return f"https://colab.research.google.com/github/{repo}/blob/{BRANCH}/notebooks/{name}"


def badge(notebook: str, repo: str = GITHUB_REPO) -> str:
    """Markdown for the "Open in Colab" badge of one notebook."""
    return f"[![Open In Colab]({BADGE_IMAGE})]({colab_url(notebook, repo)})"


SETUP_CELL = """\
# Setup: on Colab, fetch and install the kit; everywhere, report the device.
import os
import subprocess
import sys

KIT_REPO = "{repo}"
if "google.colab" in sys.modules:
    kit_dir = os.path.join("/content", KIT_REPO.split("/")[1])
    if not os.path.isdir(kit_dir):
        subprocess.run(["git", "clone", "--depth", "1", f"https://github.com/{{KIT_REPO}}", kit_dir], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", kit_dir], check=True)
    sys.path.insert(0, kit_dir)
    os.chdir(os.path.join(kit_dir, "notebooks"))

from anomaly_lib.device import describe_device, pick_device, smoke_mode

device = pick_device()
SMOKE = smoke_mode()  # KIT_SMOKE=1 shrinks sizes and iterations (the tests set it)
print("device:", describe_device(device), "| smoke mode" if SMOKE else "")"""


def setup_cell(repo: str = GITHUB_REPO) -> str:
    """The source of every notebook's first code cell."""
    return SETUP_CELL.format(repo=repo)


def enable_widgets() -> bool:
    """Let ipywidgets 8 render in Colab (its default widget manager expects version 7).

    Call it once before displaying widgets; elsewhere it does nothing. Returns
    True when it switched Colab to its custom widget manager.
    """
    if "google.colab" not in sys.modules:
        return False
    from google.colab import output  # only importable inside Colab

    output.enable_custom_widget_manager()
    return True


# ---------------------------------------------------------------------------- pointing a fork at itself

REPO_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_REPO_LINE = re.compile(r'^GITHUB_REPO = "([^"]*)"$', re.MULTILINE)


def _colab_prefix(repo: str) -> str:
    return f"https://colab.research.google.com/github/{repo}/blob/"


def _rewrite(path: Path, replacements: list[tuple[str, str]]) -> bool:
    """Apply plain-text replacements to a file; True if it changed."""
    text = path.read_text(encoding="utf-8")
    new_text = text
    for old, new in replacements:
        new_text = new_text.replace(old, new)
    if new_text == text:
        return False
    path.write_text(new_text, encoding="utf-8")
    return True


def sync_ipynb_from_py(py_path, ipynb_path=None) -> Path:
    """Rewrite a notebook's `.ipynb` from its py:percent twin, as `jupytext --sync` would.

    Cell ids and notebook metadata of an existing `.ipynb` are kept; outputs and
    execution counts are cleared, since the repository stores notebooks without them.
    """
    import jupytext
    from jupytext.combine import combine_inputs_with_outputs

    py_path = Path(py_path)
    ipynb_path = Path(ipynb_path) if ipynb_path is not None else py_path.with_suffix(".ipynb")
    notebook = jupytext.read(py_path, fmt="py:percent")
    if ipynb_path.exists():
        notebook = combine_inputs_with_outputs(
            notebook, jupytext.read(ipynb_path), fmt="py:percent"
        )
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    jupytext.write(notebook, ipynb_path, fmt="ipynb")
    return ipynb_path


def set_repository(new_repo: str, root=".") -> list[Path]:
    """Point the kit at another GitHub repository (a fork): returns the files changed.

    Under `root` (the repository's top folder) this rewrites `GITHUB_REPO` in
    `anomaly_lib/colab.py`; the Colab badge links and the setup cell's
    `KIT_REPO` in every `notebooks/*.py` twin, then re-syncs its `.ipynb`;
    and the old repository's Colab and GitHub links in `README.md`.
    Run it from the command line as `python -m anomaly_lib colab --repo OWNER/REPO`.
    """
    if not REPO_PATTERN.match(new_repo):
        raise ValueError(f"expected OWNER/REPO, e.g. my-name/anomaly-course-kit; got {new_repo!r}")
    root = Path(root)
    colab_file = root / "anomaly_lib" / "colab.py"
    found = _REPO_LINE.search(colab_file.read_text(encoding="utf-8"))
    if found is None:
        raise ValueError(f'{colab_file} has no line GITHUB_REPO = "OWNER/REPO"')
    old_repo = found.group(1)
    if old_repo == new_repo:
        return []

    changed = []
    if _rewrite(colab_file, [(found.group(0), f'GITHUB_REPO = "{new_repo}"')]):
        changed.append(colab_file)

    notebook_edits = [
        (_colab_prefix(old_repo), _colab_prefix(new_repo)),
        (f'KIT_REPO = "{old_repo}"', f'KIT_REPO = "{new_repo}"'),
    ]
    for py_path in sorted((root / "notebooks").glob("*.py")):
        ipynb_path = py_path.with_suffix(".ipynb")
        if _rewrite(py_path, notebook_edits):
            changed.append(py_path)
            if ipynb_path.exists():
                sync_ipynb_from_py(py_path, ipynb_path)
                changed.append(ipynb_path)

    readme = root / "README.md"
    readme_edits = [
        (_colab_prefix(old_repo), _colab_prefix(new_repo)),
        (f"github.com/{old_repo}", f"github.com/{new_repo}"),
    ]
    if readme.exists() and _rewrite(readme, readme_edits):
        changed.append(readme)
    return changed
