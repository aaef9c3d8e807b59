"""Where the kit lives on GitHub, and the first cells every notebook shares.

`GITHUB_REPO` is the one place that names the repository. The notebooks'
"Open in Colab" badges and their setup cells are made from it; after changing
it for a fork, run `python -m anomaly_lib colab --repo OWNER/REPO` to rewrite
them (see the README).
"""

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
