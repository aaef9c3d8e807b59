"""The notebooks' `USE_MEDMNIST = True` path, run in smoke mode on a MedMNIST-format file that a
server on localhost hands out (nothing reaches the internet): the data cell takes the real-image
branch, and the cells that need lesion masks say there are none instead of failing."""

import hashlib

import nbformat
import pytest
from nbclient import NotebookClient

from anomaly_lib.site import ROOT, kernel_environment, smoke_cell_timeout
from tests.test_anomaly_medmnist import serving, write_npz

SWITCH = "USE_MEDMNIST = "
# notebook → (what its output must say on MedMNIST, the code of the last cell that needs running):
# 06 and 09 skip their mask cells; 11 prints its table
EXPECTED = {
    "06_sagan_scoring_and_heatmaps": ("no lesion masks in this dataset", "test_masks = load_masks("),
    "09_swssl_training_and_scoring": ("no lesion masks in this dataset", "localisation = {"),
    "11_does_it_beat_a_baseline": ("| method | AUC | AP | ΔAUC vs", "display(Markdown(comparison.markdown()))"),
}


def with_medmnist(notebook, record: str, md5: dict, last: str):
    """The notebook up to the cell holding `last`, with its switch set to True and MedMNIST's
    address and checksums pointed at the test server."""
    ends = [i for i, cell in enumerate(notebook.cells) if last in cell.source]
    assert len(ends) == 1, f"one cell holds {last!r}"
    notebook.cells = notebook.cells[:ends[0] + 1]
    switched = [cell for cell in notebook.cells if cell.cell_type == "code" and SWITCH in cell.source]
    assert len(switched) == 1, "one cell holds the switch"
    lines = switched[0].source.splitlines()
    at = [i for i, line in enumerate(lines) if line.startswith(SWITCH)]
    assert len(at) == 1
    lines[at[0]] = SWITCH + "True"
    switched[0].source = "\n".join(lines)
    patch = ("import anomaly_lib.medmnist as medmnist_module\n"
             f"medmnist_module.ZENODO_RECORD = {record!r}\n"
             f"medmnist_module.MD5.update({md5!r})")
    notebook.cells.insert(1, nbformat.v4.new_code_cell(patch))
    return notebook


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_runs_on_medmnist(name, tmp_path):
    body = write_npz(tmp_path / "source.npz").read_bytes()  # 16 px images: each notebook resizes them
    files = {f"pneumoniamnist_{size}.npz": body for size in (64, 128)}
    md5 = {("pneumoniamnist", size): hashlib.md5(body).hexdigest() for size in (64, 128)}
    notebook = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    env = {**kernel_environment(smoke=True), "HOME": str(tmp_path), "MPLBACKEND": "Agg"}  # the cache: ~/.medmnist
    checkout = tmp_path / "kit"  # the notebook runs in kit/notebooks, as in the repository, writing only here
    (checkout / "notebooks").mkdir(parents=True)
    for path in ROOT.iterdir():
        if path.name not in ("notebooks", ".git"):
            (checkout / path.name).symlink_to(path)  # what notebooks read beside them (../tests/fixtures, …)
    with serving(files) as record:
        expected, last = EXPECTED[name]
        client = NotebookClient(with_medmnist(notebook, record, md5, last), timeout=smoke_cell_timeout(),
                                kernel_name="python3", resources={"metadata": {"path": str(checkout / "notebooks")}})
        client.execute(env=env)
    printed = "\n".join(output.get("text", "") + str(output.get("data", {}).get("text/markdown", ""))
                        for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs)
    assert "data: pneumoniamnist at " in printed and "(MedMNIST, real images)" in printed
    assert expected in printed
    assert (tmp_path / ".medmnist").is_dir()
