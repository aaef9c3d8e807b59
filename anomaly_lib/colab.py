"""Where the kit lives on GitHub, the first cells every notebook shares, and its display helpers.

`GITHUB_REPO` is the one place that names the repository. The notebooks'
"Open in Colab" badges, the links to their rendered pages (GitHub Pages) and
their setup cells are made from it. For a fork, run
`python -m anomaly_lib colab --repo OWNER/REPO` from the repository's top
folder: it rewrites this line, every notebook's badge and setup cell (both
twins), and the README's links (see `set_repository`).
"""

import base64
import re
import sys
from contextlib import contextmanager
from pathlib import Path

GITHUB_REPO = "anomaly-course-kit/anomaly-course-kit"
BRANCH = "main"
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
PAGE_BADGE_IMAGE = "https://img.shields.io/badge/read-rendered-2ea44f"


def colab_url(notebook: str, repo: str = GITHUB_REPO) -> str:
    """The Colab address of `notebooks/<notebook>.ipynb` on GitHub."""
    name = notebook if notebook.endswith(".ipynb") else notebook + ".ipynb"
    return f"https://colab.research.google.com/github/{repo}/blob/{BRANCH}/notebooks/{name}"


def badge(notebook: str, repo: str = GITHUB_REPO) -> str:
    """Markdown for the "Open in Colab" badge of one notebook."""
    return f"[![Open In Colab]({BADGE_IMAGE})]({colab_url(notebook, repo)})"


def site_url(repo: str = GITHUB_REPO) -> str:
    """The address GitHub Pages gives the rendered course of `repo` (owner names are lower case there)."""
    owner, name = repo.split("/")
    return f"https://{owner.lower()}.github.io/{name}/"


def page_url(notebook: str, repo: str = GITHUB_REPO) -> str:
    """The rendered page of one notebook on the course site."""
    return site_url(repo) + notebook.removesuffix(".ipynb") + ".html"


def page_badge(notebook: str, repo: str = GITHUB_REPO) -> str:
    """Markdown for the "Read it rendered" badge that sits beside the Colab badge."""
    return f"[![Read it rendered]({PAGE_BADGE_IMAGE})]({page_url(notebook, repo)})"


def badges(notebook: str, repo: str = GITHUB_REPO) -> str:
    """Both badges of one notebook, as its first markdown cell and the README's table show them."""
    return f"{badge(notebook, repo)} {page_badge(notebook, repo)}"


SETUP_CELL = """\
# Setup: on Colab, fetch and install the kit; everywhere, report the device.
import os
import subprocess
import sys

# CPU threads: when torch's OpenMP threads wait for work they spin by default, and on a busy
# CPU (a shared laptop, a 2-core Colab) the spinning slows every small step several-fold.
# PASSIVE makes idle threads sleep. It must be set before torch is first imported (below).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("KMP_BLOCKTIME", "0")  # the same for Intel's OpenMP runtime

KIT_REPO = "{repo}"
if "google.colab" in sys.modules:
    kit_dir = os.path.join("/content", KIT_REPO.split("/")[1])
    if not os.path.isdir(kit_dir):
        subprocess.run(["git", "clone", "--depth", "1", f"https://github.com/{{KIT_REPO}}", kit_dir], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", kit_dir], check=True)
    sys.path.insert(0, kit_dir)
    os.chdir(os.path.join(kit_dir, "notebooks"))

from anomaly_lib.colab import run_solution  # noqa: F401 (the exercises' answers, folded: notebooks/solutions/)
from anomaly_lib.device import describe_device, pick_device, smoke_mode

device = pick_device()
SMOKE = smoke_mode()  # KIT_SMOKE=1 shrinks sizes and iterations (the tests set it)
print("device:", describe_device(device), "| smoke mode" if SMOKE else "")"""


def setup_cell(repo: str = GITHUB_REPO) -> str:
    """The source of every notebook's first code cell."""
    return SETUP_CELL.format(repo=repo)


def widgets_major_version():
    """The installed ipywidgets' major version (7 on Colab today, 8 from PyPI), or None."""
    try:
        import ipywidgets
    except ImportError:
        return None
    return int(ipywidgets.__version__.split(".")[0])


def enable_widgets() -> bool:
    """Let ipywidgets 8 render in Colab, whose built-in widget manager expects version 7.

    Call it once before displaying widgets. It acts only in Colab with ipywidgets 8
    installed (Colab's own 7.7.1 needs nothing); returns True when it switched Colab
    to its custom widget manager.
    """
    if "google.colab" not in sys.modules or (widgets_major_version() or 0) < 8:
        return False
    from google.colab import output  # only importable inside Colab

    output.enable_custom_widget_manager()
    return True


# The MIME type of a widget's view; version 2.0 of the message spec is shared by ipywidgets 7 and 8.
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def widget_bundle(widget, text: str, html: str = None) -> dict:
    """A display bundle: the live `widget` where a widget frontend runs, a static copy elsewhere.

    JupyterLab and Colab draw the widget. A static viewer (GitHub, nbconvert, the
    rendered site) cannot, and falls back to `html` (or `text` where HTML cannot show).
    Built by hand because ipywidgets 7 widgets have no `_repr_mimebundle_`.
    """
    bundle = {
        WIDGET_VIEW: {"version_major": 2, "version_minor": 0, "model_id": widget.model_id},
        "text/plain": text,
    }
    if html is not None:
        bundle["text/html"] = html
    return bundle


def show_widget(widget, text: str, html: str = None, png=None) -> None:
    """Display `widget`, with `text`/`html` as its static fallback (see `widget_bundle`).

    `png`, a path to a picture of the widget's default view, is added to the fallback
    (under `text`, when no `html` is given), so static pages show the figure the
    widget starts with.
    """
    from html import escape

    from IPython.display import display

    if png is not None:
        data = base64.b64encode(Path(png).read_bytes()).decode("ascii")
        html = (html or f"<p><i>{escape(text)}</i></p>") + _part_html("data", {"image/png": data})
    enable_widgets()
    display(widget_bundle(widget, text, html), raw=True)


# ---------------------------------------------------------------------------- solutions kept folded


class _Collector:
    """Everything a solution prints or displays, in order: a list of ("text", str) or ("data", dict)."""

    def __init__(self):
        self.parts = []

    def write(self, text):  # file-like: stands in for sys.stdout and sys.stderr
        if self.parts and self.parts[-1][0] == "text":
            self.parts[-1] = ("text", self.parts[-1][1] + text)
        else:
            self.parts.append(("text", text))
        return len(text)

    def flush(self):
        pass

    encoding = "utf-8"  # what code that inspects sys.stdout (progress bars, loggers) asks for

    def isatty(self):
        return False

    # display-publisher interface: what IPython.display.display calls
    def publish(self, data, metadata=None, *args, **kwargs):
        self.parts.append(("data", dict(data)))

    def clear_output(self, wait=False):
        self.parts = [part for part in self.parts if part[0] == "code"]  # the solution's code stays


def _open_figures_as_png() -> list[dict]:
    """Each open matplotlib figure as a PNG display bundle, then closed (the inline backend
    would otherwise draw it after the cell, outside the folded block)."""
    if "matplotlib.pyplot" not in sys.modules:
        return []
    import io

    import matplotlib.pyplot as plt

    bundles = []
    for number in plt.get_fignums():
        buffer = io.BytesIO()
        plt.figure(number).savefig(buffer, format="png", bbox_inches="tight")
        bundles.append({"image/png": base64.b64encode(buffer.getvalue()).decode("ascii")})
        plt.close(number)
    return bundles


def _part_html(kind: str, content) -> str:
    from html import escape

    if kind == "text":
        return f"<pre>{escape(content)}</pre>"
    if kind == "code":  # a solution's own code, highlighted as Jupyter shows code
        from IPython.display import Code

        return f"<p><b>The code</b></p>\n{Code(content, language='python')._repr_html_()}\n<p><b>What it prints</b></p>"
    if "text/html" in content:
        return content["text/html"]
    for image in ("image/png", "image/jpeg"):
        if image in content:
            data = content[image]
            data = data if isinstance(data, str) else base64.b64encode(data).decode("ascii")
            return f'<img src="data:{image};base64,{data.strip()}" style="max-width:100%">'
    if "image/svg+xml" in content:
        return content["image/svg+xml"]
    return f"<pre>{escape(str(content.get('text/markdown', content.get('text/plain', ''))))}</pre>"


def folded_html(parts, summary: str) -> str:
    """`parts` (see `_Collector`) as one HTML `<details>` block, closed until clicked."""
    body = "\n".join(_part_html(kind, content) for kind, content in parts)
    return f'<details class="solution"><summary><b>{summary}</b></summary>\n{body}\n</details>'


@contextmanager
def hidden_solution(summary: str = "Show the solution's output", code: str = None):
    """Run an exercise's solution, keeping what it prints and draws folded until the reader opens it.

    In a notebook, everything the block prints or displays (text, tables, figures) is
    collected in order and shown as one HTML `<details>` block, which Colab, JupyterLab,
    GitHub and the rendered site all show closed; `code`, when given, is shown first in
    the same block. Outside a notebook it changes nothing. The code runs either way, so
    the tests still execute every solution.
    """
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is None or not hasattr(shell, "display_pub"):
        yield
        return
    collector = _Collector()
    collector.parts = [("code", code)] if code else []
    saved = sys.stdout, sys.stderr, shell.display_pub
    sys.stdout = sys.stderr = shell.display_pub = collector
    try:
        yield
    finally:
        sys.stdout, sys.stderr, shell.display_pub = saved
        parts = collector.parts + [("data", png) for png in _open_figures_as_png()]
        text = "\n".join(content if kind in ("text", "code") else content.get("text/plain", "")
                         for kind, content in parts)
        shell.display_pub.publish(
            {"text/html": folded_html(parts, summary), "text/plain": f"{summary}:\n{text}"}
        )


SOLUTIONS = "solutions"  # notebooks/solutions/NN_name.py: each notebook's exercise solutions
SOLUTION_HEADER = re.compile(r"^# %% Solution to exercise (\d+)[ \t]*$", re.MULTILINE)


def solution_source(notebook: str, number: int, folders=None) -> tuple[Path, int, str]:
    """Exercise `number`'s solution for notebook `notebook` ("02"): its file, the number of lines
    before its code there, and the code (from its `# %% Solution to exercise N` line to the next)."""
    folders = folders or [Path.cwd() / SOLUTIONS, Path(__file__).resolve().parents[1] / "notebooks" / SOLUTIONS]
    found = [path for folder in map(Path, folders) for path in sorted(folder.glob(f"{notebook}_*.py"))]
    if not found:
        raise FileNotFoundError(f"no solutions for notebook {notebook}: looked for {notebook}_*.py in "
                                + " and ".join(str(folder) for folder in folders))
    text = found[0].read_text(encoding="utf-8")
    headers = list(SOLUTION_HEADER.finditer(text))
    for header, following in zip(headers, [*headers[1:], None]):
        if int(header.group(1)) == number:
            code = text[header.end():following.start() if following else len(text)]
            return found[0], text.count("\n", 0, header.end()), code
    raise LookupError(f"{found[0]} has no '# %% Solution to exercise {number}' section")


def run_solution(notebook: str, number: int, namespace: dict = None) -> None:
    """Run exercise `number`'s solution of notebook `notebook` ("02") in the notebook's namespace,
    its code and all it prints or draws folded in one closed block (`hidden_solution`).

    The code lives in `notebooks/solutions/`, so the notebook file, wherever it is read
    (GitHub's static view included), shows only this call until the reader asks for the answer.
    """
    path, lines_before, code = solution_source(notebook, number)
    namespace = sys._getframe(1).f_globals if namespace is None else namespace  # the notebook's variables
    compiled = compile("\n" * lines_before + code, str(path), "exec")  # tracebacks point into the file
    with hidden_solution(f"Show the solution to exercise {number} (code and output)", code=code.strip("\n")):
        exec(compiled, namespace)


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
    and the old repository's Colab, GitHub and GitHub Pages links in `README.md`.
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
        (site_url(old_repo), site_url(new_repo)),
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
        (site_url(old_repo), site_url(new_repo)),
        (f"github.com/{old_repo}", f"github.com/{new_repo}"),
    ]
    if readme.exists() and _rewrite(readme, readme_edits):
        changed.append(readme)
    return changed
