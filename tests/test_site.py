"""The rendered course, built once in smoke mode; that one build is also the notebooks' test run.

`build_site` executes every notebook in a fresh kernel (nbclient, 60 s per cell), so a
notebook that fails or stalls (an Output widget can hold an executor, nbclient issue
312) fails here. The same executed notebooks are then checked as pages: every page
present, figures embedded, solutions folded (code and output), widgets replaced by their
static fallbacks, and every link inside the site resolving.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from anomaly_lib import colab
from anomaly_lib.site import build_site, rewrite_links, smoke_cell_timeout
from tests.test_notebooks import EXPECTED_NOTEBOOKS, WITHOUT_EXERCISES

EXERCISE_NOTEBOOKS = [name for name in EXPECTED_NOTEBOOKS if name not in WITHOUT_EXERCISES]


class PageReader(HTMLParser):
    """The links of a page, its embedded images, and its text outside any `<details>` block."""

    def __init__(self):
        super().__init__()
        self.links, self.embedded_images, self.visible_text = [], 0, []
        self.details_depth, self.skip_depth = 0, 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "details":
            self.details_depth += 1
        if tag in ("script", "style"):
            self.skip_depth += 1
        for key in ("href", "src"):
            if attrs.get(key):
                self.links.append(attrs[key])
        if tag == "img" and (attrs.get("src") or "").startswith("data:image/"):
            self.embedded_images += 1

    def handle_endtag(self, tag):
        if tag == "details":
            self.details_depth -= 1
        if tag in ("script", "style"):
            self.skip_depth -= 1

    def handle_data(self, data):
        if not self.details_depth and not self.skip_depth:
            self.visible_text.append(data)


def read_page(path: Path) -> PageReader:
    reader = PageReader()
    reader.feed(path.read_text(encoding="utf-8"))
    return reader


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """(folder, {name: Page}): the whole course built once, in smoke mode."""
    out = tmp_path_factory.mktemp("site")
    pages = build_site(out, smoke=True, cell_timeout=smoke_cell_timeout(), log=lambda line: None)
    return out, {page.name: page for page in pages}


@pytest.mark.parametrize("name", EXPECTED_NOTEBOOKS)
def test_notebook_runs_within_the_cell_limit(site, name):
    page = site[1][name]
    slowest = ", ".join(f"cell {index}: {seconds:.0f} s" for seconds, index in page.slowest_cells)
    assert not page.error, f"{name} failed under nbclient ({smoke_cell_timeout()} s per cell): {page.error}; {slowest}"
    assert page.slowest_cells[0][0] < smoke_cell_timeout(), slowest


@pytest.mark.parametrize("name", EXPECTED_NOTEBOOKS)
def test_page_present_with_its_figures_embedded(site, name):
    out, pages = site
    assert pages[name].path == out / f"{name}.html" and pages[name].path.is_file()
    image_outputs = sum(
        any(kind.startswith("image/") for kind in output.get("data", {}))
        for cell in pages[name].notebook.cells for output in cell.get("outputs", [])
    )
    reader = read_page(pages[name].path)
    assert reader.embedded_images >= image_outputs, f"{name}: {image_outputs} figures, {reader.embedded_images} shown"
    assert not any(link.startswith("outputs/") for link in reader.links), f"{name} links to files it did not embed"
    if name != "10_interview_quickref":  # every lesson draws something
        assert image_outputs > 0, f"{name} shows no figure"


def solution_cells(notebook) -> list:
    return [cell for cell in notebook.cells if "solution" in cell.get("metadata", {}).get("tags", [])]


@pytest.mark.parametrize("name", EXERCISE_NOTEBOOKS)
def test_solutions_stay_folded(site, name):
    """After Run All, each solution shows one closed `<details>` block and nothing else, holding its
    code (kept out of the notebook, in notebooks/solutions/) and its output; none of either appears
    outside a `<details>` block on the page."""
    page = site[1][name]
    solutions = solution_cells(page.notebook)
    assert solutions, f"{name} has no solution cells"
    answers = []
    for cell in solutions:
        outputs = cell.get("outputs", [])
        assert len(outputs) == 1 and outputs[0]["output_type"] == "display_data", (
            f"{name}: a solution shows {[o['output_type'] for o in outputs]} instead of one folded block"
        )
        assert outputs[0]["data"]["text/html"].startswith('<details class="solution">')
        assert "<p><b>The code</b></p>" in outputs[0]["data"]["text/html"], f"{name}: a solution without its code"
        answers += [line.strip() for line in outputs[0]["data"]["text/plain"].splitlines()[1:] if len(line.strip()) > 20]
    html = page.path.read_text(encoding="utf-8")
    assert html.count('<details class="solution">') >= len(solutions)
    assert "<details open" not in html
    visible = " ".join(" ".join(read_page(page.path).visible_text).split())
    shown = [answer for answer in answers if " ".join(answer.split()) in visible]
    assert not shown, f"{name}: solution output visible on the page: {shown[:2]}"


def test_widgets_show_their_static_fallback(site):
    """Every widget cell (anomaly_lib.colab.show_widget) leaves a static fallback on its page."""
    out, pages = site
    fallbacks = {}
    for page in pages.values():
        html = page.path.read_text(encoding="utf-8")
        assert colab.WIDGET_VIEW not in html, f"{page.name} keeps a widget view"
        for cell in page.notebook.cells:
            if cell.cell_type == "code" and "show_widget(" in cell.source:
                shown = [output["data"] for output in cell.outputs if "text/plain" in output.get("data", {})]
                assert shown, f"{page.name}: a widget cell shows nothing on the page"
                fallback = shown[0].get("text/html", shown[0]["text/plain"])  # show_widget comes first
                fallbacks.setdefault(page.name, []).append(fallback)
    assert set(fallbacks) >= {"01_data_and_synthetic_anomalies", "06_sagan_scoring_and_heatmaps",
                              "07_swssl_sliding_windows_and_augmentations", "10_interview_quickref"}
    explorer = fallbacks["07_swssl_sliding_windows_and_augmentations"][0]
    assert '<img src="data:image/png;base64,' in explorer  # the explorer's default view, as a picture
    picture = explorer.split("base64,", 1)[1].split('"', 1)[0]
    caption = explorer.split("<img", 1)[0]
    page = pages["07_swssl_sliding_windows_and_augmentations"].path.read_text(encoding="utf-8")
    assert caption in page and picture in page  # nbconvert adds an alt text to the <img>, so not verbatim
    quiz = fallbacks["10_interview_quickref"][0]
    assert "needs a running notebook" in quiz
    assert quiz in pages["10_interview_quickref"].path.read_text(encoding="utf-8")


def test_progress_bars_leave_static_pages_but_widget_fallbacks_stay():
    """A tqdm bar in a notebook is a widget whose text is its first state (0 %): a page drops it;
    the kit's widgets keep their fallbacks, and printed text that only looks like a bar stays."""
    import nbformat

    from anomaly_lib.site import static_outputs

    def widget(text):
        return nbformat.v4.new_output("display_data", data={colab.WIDGET_VIEW: {"model_id": "m"}, "text/plain": text})

    cell = nbformat.v4.new_code_cell("train()")
    cell.outputs = [widget("epoch 3/60:   0%|          | 0/24 [00:00<?, ?img/s]"), widget("12it [00:03, 4.0it/s]"),
                    widget("a slider at 3"), nbformat.v4.new_output("stream", text="50%|#####     | 5/10 [00:01<00:01]\n")]
    notebook = nbformat.v4.new_notebook(cells=[cell, nbformat.v4.new_markdown_cell("text")])
    static_outputs(notebook)
    assert [output.get("data", {}).get("text/plain", output.get("text")) for output in cell.outputs] == [
        "a slider at 3", "50%|#####     | 5/10 [00:01<00:01]\n"]
    assert colab.WIDGET_VIEW not in cell.outputs[0]["data"]


def test_index_and_links_resolve(site):
    out, pages = site
    index = read_page(out / "index.html")
    for name in EXPECTED_NOTEBOOKS:
        assert f"{name}.html" in index.links, f"the front page does not link to {name}.html"
    for path in [out / "index.html", *(page.path for page in pages.values())]:
        for link in read_page(path).links:
            parts = urlsplit(link)
            if parts.scheme or link.startswith(("#", "data:")):
                continue
            assert (out / parts.path).is_file(), f"{path.name} links to {link}, which the site lacks"


# ---------------------------------------------------------------------------- without a build


def test_rewrite_links(tmp_path):
    root = Path(__file__).resolve().parents[1]
    html = (
        '<a href="03_sagan_generator_shape_by_shape.ipynb#x">n</a>'
        f'<a href="{colab.page_url("05_sagan_training")}">p</a>'
        '<a href="../sagan_lib/README.md">r</a>'
        '<img src="../docs/images/sagan_roc_pr.png">'
        '<a href="https://example.org/a.ipynb">e</a><a href="#top">t</a>'
    )
    pages = {"03_sagan_generator_shape_by_shape", "05_sagan_training"}
    result = rewrite_links(html, root / "notebooks", tmp_path, pages)
    assert 'href="03_sagan_generator_shape_by_shape.html#x"' in result
    assert 'href="05_sagan_training.html"' in result
    assert f'href="https://github.com/{colab.GITHUB_REPO}/blob/main/sagan_lib/README.md"' in result
    assert 'src="images/docs/images/sagan_roc_pr.png"' in result
    assert (tmp_path / "images" / "docs" / "images" / "sagan_roc_pr.png").is_file()
    assert 'href="https://example.org/a.ipynb"' in result and 'href="#top"' in result


def test_cell_limit_is_60_s_unless_told(monkeypatch):
    monkeypatch.delenv("KIT_CELL_TIMEOUT", raising=False)
    assert smoke_cell_timeout() == 60
    monkeypatch.setenv("KIT_CELL_TIMEOUT", "120")
    assert smoke_cell_timeout() == 120
    monkeypatch.setenv("KIT_CELL_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="KIT_CELL_TIMEOUT must be a whole number of seconds.*'soon'"):
        smoke_cell_timeout()


def test_unknown_notebook_is_one_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no such notebook .*: 99_nothing"):
        build_site(tmp_path, names=["99_nothing"])
