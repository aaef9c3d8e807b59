"""The rendered course: every notebook executed once and exported to HTML, the README as front page.

    python -m anomaly_lib site --out site             # the published edition (about a CPU-hour)
    KIT_SMOKE=1 python -m anomaly_lib site --out site # the same pages in smoke mode, in minutes

Each notebook runs top to bottom in a fresh kernel (nbclient) with a per-cell time
limit, so the same run that builds the pages also catches a cell that fails or stalls.
Pages are static: a widget shows its fallback (see `anomaly_lib.colab.show_widget`),
figures are embedded in the page, and exercise solutions (code and output) stay folded (`<details>`).
Nothing is downloaded: the pages use nbconvert's own templates and styles.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from urllib.parse import urlsplit

from .colab import BRANCH, GITHUB_REPO, WIDGET_VIEW, colab_url, site_url

ROOT = Path(__file__).resolve().parents[1]
SMOKE_CELL_TIMEOUT = 60  # seconds per cell in smoke mode: a stalled cell fails the build
FULL_CELL_TIMEOUT = 3600  # the full edition trains for real
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".svg"}

# The lab template with the course's navigation bar and a few styles. A solution needs nothing
# here: its cell is one call, and its code and output come folded in its output (`run_solution`).
PAGE_TEMPLATE = """\
{%- extends 'lab/index.html.j2' -%}
{% block extra_css -%}
{{ super() }}
<style>
nav.course { position: sticky; top: 0; z-index: 10; background: #f6f8fa; border-bottom: 1px solid #d0d7de;
  padding: 0.5em 1em; font: 14px sans-serif; display: flex; gap: 1.2em; flex-wrap: wrap; }
nav.course a { color: #0969da; text-decoration: none; }
.smoke-note { background: #fff8c5; padding: 0.4em 1em; font: 14px sans-serif; }
details.solution { margin: 0.4em 0 0.4em 0; padding: 0.3em 0.6em;
  border-left: 3px solid #2ea44f; background: #f6fff8; }
details.solution > summary { cursor: pointer; color: #1a7f37;
  font: bold 14px sans-serif; }
.jp-Notebook { max-width: 1100px; margin: 0 auto; }
</style>
{%- endblock extra_css %}
"""


def smoke_cell_timeout() -> int:
    """The smoke-mode cell limit: 60 s, or KIT_CELL_TIMEOUT seconds on a machine known to be slow."""
    text = os.environ.get("KIT_CELL_TIMEOUT", str(SMOKE_CELL_TIMEOUT))
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"KIT_CELL_TIMEOUT must be a whole number of seconds, e.g. 120; got {text!r}")
    return int(text)


@dataclass
class Page:
    """One built page: where it is, how long its notebook ran, and what went wrong."""

    name: str
    path: Path
    seconds: float = 0.0  # running the notebook
    page_seconds: float = 0.0  # writing its page
    error: str = ""
    slowest_cells: list = field(default_factory=list)  # [(seconds, cell index)], slowest first
    notebook: object = None  # the executed notebook (nbformat), widget views removed


# ---------------------------------------------------------------------------- running


def kernel_environment(smoke: bool) -> dict:
    """The notebooks' environment: smoke mode or not, and matplotlib's own notebook backend."""
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)  # the tests set Agg; a page wants the inline figures
    if smoke:
        env["KIT_SMOKE"] = "1"
    else:
        env.pop("KIT_SMOKE", None)
    return env


def cell_seconds(cell) -> float:
    """How long a cell ran, from the timestamps nbclient records; 0 if it did not run."""
    from datetime import datetime

    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return 0.0
    parse = lambda stamp: datetime.fromisoformat(stamp.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def execute(path: Path, smoke: bool, cell_timeout: int):
    """Run one notebook in a fresh python3 kernel, in its own folder: (notebook, seconds, error)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=cell_timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        store_widget_state=False,  # a static page cannot run widgets; their fallbacks show instead
    )
    start, error = time.perf_counter(), ""
    try:
        client.execute(env=kernel_environment(smoke))
    except CellTimeoutError:
        error = f"a cell ran longer than {cell_timeout} s (stalled or too slow)"
    except (CellExecutionError, DeadKernelError) as failure:
        error = str(failure).strip().splitlines()[-1] if str(failure).strip() else type(failure).__name__
    return notebook, time.perf_counter() - start, error


# tqdm's text for a progress bar, "epoch 3/60:  40%|████      | 4/10 [00:01<00:02, 3.1it/s]" or
# "12it [00:03, 4.0it/s]": in a notebook it is the text form of a live progress-bar widget.
PROGRESS_BAR = re.compile(r"\d+%\|.*\|\s*[\d.]+\w?/[\d.?]+\w? \[|(^|: )[\d.]+\w?it \[")


def static_outputs(notebook) -> None:
    """Drop widget views and widget state, so every widget shows its static fallback; progress
    bars are dropped: a page can only show the text they had when they started (0 %)."""
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        kept = []
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if data.pop(WIDGET_VIEW, None) is not None and PROGRESS_BAR.search(data.get("text/plain", "")):
                continue
            kept.append(output)
        if "outputs" in cell:
            cell["outputs"] = kept


# ---------------------------------------------------------------------------- links


def github_url(relative: str, repo: str = GITHUB_REPO) -> str:
    """The GitHub page of a file or folder of the repository."""
    kind = "tree" if (ROOT / relative).is_dir() else "blob"
    return f"https://github.com/{repo}/{kind}/{BRANCH}/{relative}"


def rewrite_links(html: str, source_dir: Path, out: Path, pages: set[str], repo: str = GITHUB_REPO) -> str:
    """Make a page's links work on the site.

    A link to a course notebook (or to its page on the published site) becomes the
    page next to this one; a relative picture is copied into `out/images/`; any other
    relative link goes to the file on GitHub. Absolute links stay as they are.
    """
    published = site_url(repo)

    def replace(match):
        attribute, url = match.group(1), match.group(2)
        if url.startswith(published):
            url = url[len(published):] or "index.html"
            return f'{attribute}="{url}"'
        parts = urlsplit(url)
        if parts.scheme or parts.netloc or url.startswith(("#", "data:", "mailto:")) or not parts.path:
            return match.group(0)
        fragment = f"#{parts.fragment}" if parts.fragment else ""
        target = (source_dir / parts.path).resolve()
        if target.suffix == ".ipynb" and target.stem in pages:
            return f'{attribute}="{target.stem}.html{fragment}"'
        try:
            relative = target.relative_to(ROOT).as_posix()
        except ValueError:  # outside the repository: leave it, the link check reports it
            return match.group(0)
        if target.suffix.lower() in IMAGE_SUFFIXES and target.is_file():
            copy = out / "images" / relative
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(target, copy)
            return f'{attribute}="images/{relative}"'
        return f'{attribute}="{github_url(relative, repo)}{fragment}"'

    return re.sub(r'\b(href|src)="([^"]*)"', replace, html)


def navigation(names: list[str], index: int | None, smoke: bool) -> str:
    """The bar at the top of every page: home, previous, next, Colab and GitHub links."""
    links = ['<a href="index.html">Course home</a>']
    if index is not None:
        if index > 0:
            links.append(f'<a href="{names[index - 1]}.html">← {escape(names[index - 1])}</a>')
        if index + 1 < len(names):
            links.append(f'<a href="{names[index + 1]}.html">{escape(names[index + 1])} →</a>')
        name = names[index]
        links.append(f'<a href="{colab_url(name)}">Open in Colab</a>')
        links.append(f'<a href="{github_url(f"notebooks/{name}.ipynb")}">Notebook on GitHub</a>')
    bar = '<nav class="course">' + " ".join(links) + "</nav>"
    if smoke:
        bar += ('<div class="smoke-note">Smoke edition (KIT_SMOKE=1): sizes and training runs are shrunk, '
                "so the numbers and pictures show that the code runs, not what it learns.</div>")
    return bar


def export(notebook, title: str) -> str:
    """One notebook as a standalone HTML page (nbconvert's lab template, folded solutions)."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab", extra_loaders=[DictLoader({"page.html.j2": PAGE_TEMPLATE})])
    exporter.template_file = "page.html.j2"
    html, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": title}})
    return html


def with_navigation(html: str, nav: str) -> str:
    """`nav` placed at the top of the page's body."""
    return re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + "\n" + nav, html, count=1)


def readme_notebook(readme: Path):
    """The README as a one-cell markdown notebook, so nbconvert renders it like the pages."""
    import nbformat

    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(readme.read_text(encoding="utf-8"))])


# ---------------------------------------------------------------------------- the whole site


def build_site(out, notebooks_dir=None, smoke: bool | None = None, cell_timeout: int | None = None,
               names: list[str] | None = None, log=print) -> list[Page]:
    """Execute the course's notebooks and write the site into `out`: one page each plus index.html.

    `smoke` defaults to KIT_SMOKE; `names` picks some notebooks (default: all, in order).
    Returns one `Page` per notebook; a page whose notebook failed or timed out has `error`
    set and still shows what ran before the failure.
    """
    from .device import smoke_mode

    out = Path(out)
    notebooks_dir = Path(notebooks_dir) if notebooks_dir else ROOT / "notebooks"
    smoke = smoke_mode() if smoke is None else smoke
    cell_timeout = cell_timeout or (smoke_cell_timeout() if smoke else FULL_CELL_TIMEOUT)
    every_name = sorted(path.stem for path in notebooks_dir.glob("*.ipynb"))
    unknown = sorted(set(names or []) - set(every_name))
    if unknown:
        raise ValueError(f"no such notebook in {notebooks_dir}: {', '.join(unknown)}")
    chosen = names or every_name
    out.mkdir(parents=True, exist_ok=True)
    pages = []
    for name in chosen:
        notebook, seconds, error = execute(notebooks_dir / f"{name}.ipynb", smoke, cell_timeout)
        start = time.perf_counter()
        static_outputs(notebook)
        timings = sorted(((cell_seconds(cell), i) for i, cell in enumerate(notebook.cells)), reverse=True)
        html = rewrite_links(export(notebook, name), notebooks_dir, out, set(every_name))
        page = Page(name, out / f"{name}.html", seconds, 0.0, error, timings[:3], notebook)
        nav = navigation(every_name, every_name.index(name), smoke)
        page.path.write_text(with_navigation(html, nav), encoding="utf-8")
        page.page_seconds = time.perf_counter() - start
        pages.append(page)
        log(f"{name}: ran in {seconds:.0f} s (slowest cell {timings[0][0]:.0f} s), page in {page.page_seconds:.1f} s"
            + (f"  FAILED: {error}" if error else ""))
    readme = notebooks_dir.parent / "README.md"
    if readme.exists():
        html = export(readme_notebook(readme), "Anomaly detection in medical images: the course")
        html = rewrite_links(html, readme.parent, out, set(every_name))
        (out / "index.html").write_text(with_navigation(html, navigation(every_name, None, smoke)), encoding="utf-8")
    return pages


def run_from_args(args) -> int:
    """The ``site`` subcommand: build, then say where the pages are and what failed."""
    names = args.notebook or None
    try:
        pages = build_site(args.out, smoke=True if args.smoke else None, cell_timeout=args.cell_timeout, names=names)
    except ValueError as error:
        print(f"error: {error}")
        return 2
    failed = [page for page in pages if page.error]
    total, writing = sum(page.seconds for page in pages), sum(page.page_seconds for page in pages)
    print(f"{len(pages) - len(failed)} of {len(pages)} notebooks ran ({total:.0f} s running, {writing:.0f} s "
          f"writing pages); open {Path(args.out) / 'index.html'}")
    for page in failed:
        print(f"  {page.name}: {page.error}")
    return 1 if failed else 0
