import numpy as np
import pytest
import torch

from anomaly_lib.figures import heatmap_panel, reconstruction_panel, roc_pr_figure
from anomaly_lib.metrics import roc_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path):
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 2000


def test_reconstruction_panel_has_four_columns_and_saves_png(tmp_path):
    images = torch.rand(3, 1, 16, 16) * 2 - 1
    reconstructions = images.flip(-1)
    anomaly_maps = (images - reconstructions).abs()
    path = tmp_path / "new_folder" / "panel.png"
    figure = reconstruction_panel(
        images, reconstructions, anomaly_maps, titles=["a", "b", "c"], path=path
    )
    assert_png(path)
    axes = [ax for ax in figure.get_axes() if ax.get_label() != "<colorbar>"]
    assert len(axes) == 3 * 4 and len(figure.get_axes()) == 3 * 4 + 2  # and two colour bars
    assert [ax.get_title() for ax in axes[:4]] == [
        "input",
        "reconstruction",
        "difference",
        "overlay",
    ]
    assert axes[4].get_ylabel() == "b"
    assert all(len(ax.get_images()) == 1 for ax in axes)


def test_reconstruction_panel_accepts_n_h_w_and_checks_lengths():
    images = np.zeros((2, 8, 8))
    figure = reconstruction_panel(images, images, images)
    assert len(figure.get_axes()) == 2 * 4 + 2  # and two colour bars
    with pytest.raises(ValueError, match="2 images, 2 reconstructions and 1 anomaly maps"):
        reconstruction_panel(images, images, images[:1])
    with pytest.raises(ValueError, match="titles has 1 entries"):
        reconstruction_panel(images, images, images, titles=["only one"])


def test_heatmap_panel_overlays_coarse_maps(tmp_path):
    images = np.random.default_rng(0).random((2, 32, 32))
    patch_maps = np.random.default_rng(1).random((2, 4, 4))
    path = tmp_path / "heat.png"
    figure = heatmap_panel(images, patch_maps, path=path)
    assert_png(path)
    overlay = figure.get_axes()[1].get_images()[0].get_array()
    assert overlay.shape == (32, 32, 3)


def test_roc_pr_figure_marks_both_cutoffs_and_saves(tmp_path):
    labels = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    scores = [1, 2, 3, 4, 8, 5, 6, 7, 9, 10]
    path = tmp_path / "roc.png"
    figure = roc_pr_figure(labels, scores, path=path, title="toy")
    assert_png(path)
    roc_ax, pr_ax = figure.get_axes()
    roc_legend = [text.get_text() for text in roc_ax.get_legend().get_texts()]
    assert "ROC (AUC = 0.880)" in roc_legend
    assert any(text.startswith("authors' cutoff: t=6") for text in roc_legend)
    assert any(text.startswith("Youden's J: t=5") for text in roc_legend)
    pr_legend = [text.get_text() for text in pr_ax.get_legend().get_texts()]
    assert f"PR (AP = {roc_report(labels, scores).ap:.3f})" in pr_legend


def test_show_figure_saves_a_png_and_displays_it(tmp_path, monkeypatch):
    import IPython.display
    from matplotlib.figure import Figure

    from anomaly_lib.figures import show_figure

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    figure = Figure(figsize=(2, 2))
    figure.subplots().plot([0, 1], [1, 0])
    assert show_figure(figure, "line", tmp_path / "out") is None
    path = tmp_path / "out" / "line.png"
    assert path.read_bytes()[:4] == b"\x89PNG"
    assert len(shown) == 1 and shown[0].data == path.read_bytes()


def test_heatmap_panel_on_a_shared_scale_has_one_colour_bar_marking_the_threshold(tmp_path):
    from anomaly_lib.heatmaps import HeatScale

    images = np.random.default_rng(0).random((3, 16, 16))
    maps = np.random.default_rng(1).random((3, 16, 16))
    figure = heatmap_panel(images, maps, scale=HeatScale.around(0.4), scale_label="my map",
                           path=tmp_path / "panel.png")
    assert_png(tmp_path / "panel.png")
    bars = [ax for ax in figure.get_axes() if ax.get_label() == "<colorbar>"]
    assert len(bars) == 1 and bars[0].get_ylabel() == "my map"
    assert [t.get_text() for t in bars[0].get_yticklabels()] == ["0", "threshold 0.4", "0.8"]


def colour_bars(figure):
    return [ax for ax in figure.get_axes() if ax.get_label() == "<colorbar>"]


def test_an_image_cutoff_on_the_mean_is_named_on_the_colour_bar_never_drawn_as_a_pixel_value():
    from anomaly_lib.heatmaps import HeatScale

    maps = np.random.default_rng(1).random((2, 16, 16))
    figure = heatmap_panel(np.zeros((2, 16, 16)), maps, scale=HeatScale.marked(0.2, largest=1.0), scale_label="error")
    (bar,) = colour_bars(figure)
    assert [t.get_text() for t in bar.get_yticklabels()] == ["0", "1"]  # no tick at the cutoff
    assert "image cutoff 0.2 is on the map's mean" in bar.get_ylabel()
    window_threshold = HeatScale(0.1, 1.0, anchor=0.3)  # patch_knn: the image score is the largest window score
    (bar,) = colour_bars(heatmap_panel(np.zeros((2, 16, 16)), maps, scale=window_threshold))
    assert [t.get_text() for t in bar.get_yticklabels()] == ["0.1", "threshold 0.3", "1"]


def test_every_heatmap_panel_says_its_scale_on_a_colour_bar_also_when_each_map_is_stretched():
    images, maps = np.zeros((2, 16, 16)), np.random.default_rng(1).random((2, 16, 16))
    (bar,) = colour_bars(heatmap_panel(images, maps))
    assert "own range" in bar.get_ylabel()
    assert [t.get_text() for t in bar.get_yticklabels()] == ["its own min", "its own max"]
    bars = colour_bars(reconstruction_panel(images, images, maps))  # the difference column and the overlays
    assert len(bars) == 2 and "one scale for all rows" in bars[0].get_xlabel() and "own range" in bars[1].get_ylabel()
