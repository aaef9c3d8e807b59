"""`python -m anomaly_lib readme-figures` makes every picture the README shows."""

import re
from pathlib import Path

import numpy as np
from PIL import Image

from anomaly_lib.__main__ import README_DEMO_FIGURES, README_PICTURE_BYTES, main, save_for_readme

ROOT = Path(__file__).resolve().parents[1]
README_PICTURES = [*README_DEMO_FIGURES, "sagan_generator.png"]


def test_readme_figures_runs_both_demos_and_draws_the_diagram(tmp_path, capsys):
    out = tmp_path / "images"
    assert main(["readme-figures", "--out", str(out), "--smoke"]) == 0
    assert sorted(path.name for path in out.iterdir()) == sorted(README_PICTURES)
    for name in README_PICTURES:
        with Image.open(out / name) as image:
            assert image.format == "PNG" and min(image.size) > 300
        assert (out / name).stat().st_size <= README_PICTURE_BYTES
    printed = capsys.readouterr().out
    assert "SAGAN demo: AUC" in printed and "demo patch_knn scoring: AUC" in printed


def test_save_for_readme_shrinks_a_picture_until_it_fits(tmp_path):
    noise = np.random.default_rng(0).integers(0, 256, (400, 300, 4), dtype=np.uint8)  # incompressible
    Image.fromarray(noise, "RGBA").save(tmp_path / "noise.png")
    assert save_for_readme(tmp_path / "noise.png", tmp_path / "small.png", budget=1_000_000) == 1.0
    scale = save_for_readme(tmp_path / "noise.png", tmp_path / "small.png", budget=100_000)
    assert scale < 1 and (tmp_path / "small.png").stat().st_size <= 100_000
    with Image.open(tmp_path / "small.png") as small:
        assert small.mode == "RGB" and small.size == (round(300 * scale), round(400 * scale))
    assert save_for_readme(tmp_path / "noise.png", tmp_path / "palette.png", palette=True) == 1.0
    with Image.open(tmp_path / "palette.png") as paletted:
        assert paletted.mode == "P" and len(paletted.getcolors(1000)) <= 256


def test_readme_shows_every_picture_the_command_makes():
    readme = (ROOT / "README.md").read_text()
    shown = set(re.findall(r"docs/images/([\w.]+\.png)", readme))
    assert shown == set(README_PICTURES)
    assert "python -m anomaly_lib readme-figures" in readme
    for name in README_PICTURES:
        path = ROOT / "docs" / "images" / name
        assert path.is_file(), f"{path} is missing: run python -m anomaly_lib readme-figures"
        assert path.stat().st_size < 300_000, f"{path} is over 300 kB"
