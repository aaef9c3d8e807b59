"""Look at the course as readers meet it: screenshots of the rendered site and of JupyterLab.

    python -m anomaly_lib site --out site          # (or with KIT_SMOKE=1) build the site first
    python benchmarks/screenshot_site.py --site site --out screenshots [--lab NOTEBOOK]

Uses a real headless Chromium: Debian's package (`apt-get install chromium`) driven by
Playwright (`pip install playwright`; no browser download, `--chromium` points at the
binary). For the site it saves the front page, the top of every notebook page, and
a page's first exercise solution closed and then opened. With `--lab NAME` it also
starts JupyterLab on a copy of the notebooks, runs NAME with "Run All" and
screenshots the solutions after the run. Prints the PNG paths it wrote.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-dev-shm-usage", "--no-first-run"]


def site_screenshots(browser, site: Path, out: Path, solution_page: str, find=()) -> list[Path]:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    shots = []
    for html in sorted(site.glob("*.html")):
        page.goto(html.resolve().as_uri())
        page.wait_for_load_state("load")
        shots.append(out / f"site_{html.stem}.png")
        page.screenshot(path=shots[-1])
    for number, wanted in enumerate(find):  # "PAGE:TEXT": the output of PAGE that shows TEXT
        name, _, text = wanted.partition(":")
        page.goto((site / f"{name}.html").resolve().as_uri())
        page.locator(".jp-OutputArea-output", has_text=text).first.scroll_into_view_if_needed()
        page.evaluate("window.scrollBy(0, -150)")
        shots.append(out / f"site_{name}_find{number}.png")
        page.screenshot(path=shots[-1])
    page.goto((site / f"{solution_page}.html").resolve().as_uri())
    first = page.locator("details.solution").first
    first.scroll_into_view_if_needed()
    page.evaluate("window.scrollBy(0, -200)")
    shots.append(out / f"site_{solution_page}_solution_closed.png")
    page.screenshot(path=shots[-1])
    first.locator("summary").click()
    page.evaluate("window.scrollBy(0, -50)")
    shots.append(out / f"site_{solution_page}_solution_opened.png")
    page.screenshot(path=shots[-1])
    return shots


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def lab_screenshots(browser, notebook: str, out: Path, wait_s: int, find=()) -> list[Path]:
    """JupyterLab on a temporary copy of notebooks/: open `notebook`, Run All, screenshot solutions
    and the cells whose output contains each text in `find` (a widget, say)."""
    work = Path(tempfile.mkdtemp()) / "notebooks"
    twins = shutil.ignore_patterns("outputs", "*.py")  # the .py twins, not the solutions/ they call

    def skip(folder, names):
        return twins(folder, names) if Path(folder) == ROOT / "notebooks" else set()

    shutil.copytree(ROOT / "notebooks", work, ignore=skip)
    port, token = free_port(), "screenshot"
    env = {**os.environ, "KIT_SMOKE": os.environ.get("KIT_SMOKE", "1")}
    lab = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", f"--IdentityProvider.token={token}",
         "--ServerApp.root_dir=" + str(work), "--LabApp.expose_app_in_browser=True", "--allow-root"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    shots = []
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        url = f"http://127.0.0.1:{port}/lab/tree/{notebook}.ipynb?token={token}"
        for _ in range(90):
            try:
                page.goto(url)
                break
            except Exception:  # the server is still starting
                time.sleep(1)
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
        page.wait_for_function("window.jupyterapp && window.jupyterapp.shell.currentWidget"
                               " && window.jupyterapp.shell.currentWidget.sessionContext.session", timeout=120_000)
        time.sleep(2)
        page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        start = time.time()
        every_cell_ran = ("window.jupyterapp.shell.currentWidget.content.widgets"
                          ".filter(c => c.model.type === 'code').every(c => c.model.executionCount)")
        while time.time() - start < wait_s and not page.evaluate(every_cell_ran):
            time.sleep(3)
        print(f"JupyterLab: Run All of {notebook} took {time.time() - start:.0f} s")
        page.evaluate("document.querySelectorAll('.jp-WindowedPanel-outer').forEach(e => { e.scrollTop = 0; })")
        time.sleep(3)
        shots.append(out / f"lab_{notebook}_top.png")
        page.screenshot(path=shots[-1])
        for number, text in enumerate(find):
            found = (page.locator(text[4:]) if text.startswith("css:")  # a selector, e.g. of a widget
                     else page.locator(".jp-OutputArea", has_text=text)).first
            found.scroll_into_view_if_needed()
            found.evaluate("element => element.scrollIntoView({block: 'start'})")
            time.sleep(2)
            shots.append(out / f"lab_{notebook}_find{number}.png")
            page.screenshot(path=shots[-1])
        solutions = page.locator("details.solution")
        if solutions.count():
            solutions.first.scroll_into_view_if_needed()
            shots.append(out / f"lab_{notebook}_solution_closed.png")
            page.screenshot(path=shots[-1])
            solutions.first.locator("summary").click()
            time.sleep(1)
            shots.append(out / f"lab_{notebook}_solution_opened.png")
            page.screenshot(path=shots[-1])
    finally:
        lab.terminate()
        lab.wait(timeout=30)
    return shots


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--site", default="site", help="the built site's folder")
    parser.add_argument("--out", default="screenshots", help="folder for the PNGs")
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="Chromium binary (Debian's package)")
    parser.add_argument("--solution-page", default="02_sagan_windows_and_position_codes")
    parser.add_argument("--find", action="append", default=[], metavar="PAGE:TEXT",
                        help="also screenshot the output of PAGE that contains TEXT (repeatable)")
    parser.add_argument("--lab", metavar="NOTEBOOK", help="also screenshot JupyterLab after Run All of NOTEBOOK")
    parser.add_argument("--lab-wait", type=int, default=300, help="seconds to let Run All finish")
    parser.add_argument("--lab-find", action="append", default=[], metavar="TEXT",
                        help="also screenshot the output that contains TEXT, or matches css:SELECTOR (repeatable)")
    args = parser.parse_args(argv)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("error: needs playwright (pip install playwright; never `playwright install`: --chromium is used)")
        return 2
    site, out = Path(args.site), Path(args.out)
    if not (site / "index.html").is_file():
        print(f"error: {site / 'index.html'} not found: build the site first (python -m anomaly_lib site --out {site})")
        return 2
    if not Path(args.chromium).is_file():
        print(f"error: no Chromium at {args.chromium} (apt-get install chromium)")
        return 2
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        shots = site_screenshots(browser, site, out, args.solution_page, args.find)
        if args.lab:
            shots += lab_screenshots(browser, args.lab, out, args.lab_wait, args.lab_find)
        browser.close()
    for shot in shots:
        print(shot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
