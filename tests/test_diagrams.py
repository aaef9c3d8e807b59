"""The diagrams are drawn from the models: their text follows the model, and they stay readable."""

import pytest
import torch

from anomaly_lib.diagrams import Diagram, layout_problems, shape_text, traced_shapes
from anomaly_lib.shapes import trace_shapes
from sagan_lib import Discriminator, Generator
from sagan_lib.config import SaganConfig
from sagan_lib.diagrams import critic_diagram, generator_diagram, training_diagram
from swssl_lib import PatchModel, WindowGrid
from swssl_lib.diagrams import evaluation_diagram, training_step_diagram

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def texts(figure) -> str:
    """Every piece of text in a figure (boxes, labels, title, legend), one per line."""
    return "\n".join(text.get_text() for text in figure.findobj(match=lambda a: hasattr(a, "get_text")))


def assert_readable(figure):
    assert layout_problems(figure) == []


# ------------------------------------------------------------------ the primitives
def test_layout_problems_finds_text_outside_its_box_and_text_on_text():
    diagram = Diagram(6, 4)
    diagram.box(1.5, 2, 2, 1, "fits")
    diagram.box(4.5, 2, 0.5, 1, "a title much wider than its box")
    diagram.label(1.5, 0.4, "label one")
    diagram.label(1.6, 0.45, "label two")
    problems = layout_problems(diagram.finish())
    assert any("does not fit" in problem and "much wider" in problem for problem in problems)
    assert any("'label one' overlaps 'label two'" in problem for problem in problems)
    assert not any("'fits'" in problem for problem in problems)


def test_boxes_and_arrows_check_their_arguments(tmp_path):
    diagram = Diagram(4, 3)
    box = diagram.box(2, 1.5, 2, 1, "box")
    assert box.port("left") == (1, 1.5) and box.port("top", 0.25) == (1.5, 2)
    with pytest.raises(ValueError, match="box kind"):
        diagram.box(1, 1, 1, 1, "x", kind="purple")
    with pytest.raises(ValueError, match="arrow kind"):
        diagram.arrow((0, 0), (1, 1), kind="wiggly")
    with pytest.raises(ValueError, match="side"):
        box.port("middle")
    diagram.finish(tmp_path / "sub" / "d.png")
    assert (tmp_path / "sub" / "d.png").read_bytes().startswith(PNG_SIGNATURE)


def test_traced_shapes_leave_the_model_as_it_was():
    generator = Generator(conv_dim=8, repeat_num=1).train()
    before = generator.layer1[1].running_mean.clone()
    shapes = traced_shapes(generator, torch.rand(4, 1, 32, 32))
    assert generator.training
    assert torch.equal(generator.layer1[1].running_mean, before)  # eval mode: no statistics update
    assert shapes["enc_layer1"] == (4, 16, 16, 16)
    assert shape_text(shapes["enc_layer1"]) == "(16, 16, 16)" and shape_text((2, 512)) == "(512,)"


# ------------------------------------------------------------------ SAGAN
@pytest.mark.parametrize("conv_dim, repeat_num", [(8, 1), (16, 2)])
def test_generator_diagram_shows_the_traced_shapes(conv_dim, repeat_num, tmp_path):
    generator = Generator(conv_dim=conv_dim, repeat_num=repeat_num)
    figure = generator_diagram(generator, path=tmp_path / "generator.png")
    assert (tmp_path / "generator.png").read_bytes().startswith(PNG_SIGNATURE)
    written = texts(figure)
    trace = {row.name: row.output_shape for row in trace_shapes(generator.eval(), torch.zeros(4, 1, 32, 32)).rows}
    for name in ("layer1", "enc_layer1", "p_bn1", "enc_layer2", "p_bn2", "enc_layer3", "bn2", "gate1",
                 "dec_bn1", "dec_layer1", "gate2", "dec_layer2", "dec_layer3", "up_conv1", "up_conv2", "bn3",
                 "conv"):
        assert shape_text(trace[name]) in written, name
    assert f"conv_dim={conv_dim}, {repeat_num} residual block" in written
    assert f"+3 channels → ({2 * conv_dim + 3}, 16, 16)" in written  # codes appended before p_bn1
    assert f"concat 3 scales → ({3 * conv_dim}, 32, 32)" in written
    assert_readable(figure)


def test_a_model_on_the_meta_device_draws_the_same_diagram():
    torch.manual_seed(0)
    on_cpu = texts(generator_diagram(Generator(conv_dim=8, repeat_num=1)))
    with torch.device("meta"):  # shapes without numbers: nothing is allocated or initialised
        on_meta = texts(generator_diagram(Generator(conv_dim=8, repeat_num=1)))
    assert on_meta == on_cpu


def test_generator_diagram_follows_the_window_grid():
    figure = generator_diagram(Generator(conv_dim=8, repeat_num=1, num_memory=16), image_size=64)
    written = texts(figure)
    assert "4×4 windows of 16×16" in written
    assert "+5 channels → (21, 8, 8)" in written  # 16 windows need 5 bits (the authors' rule)
    assert "16 windows, each (1, 16, 16)" in written


@pytest.mark.parametrize("conv_dim, repeat_num, last, verdict", [
    (8, 6, "(256, 1, 1)", "1×1: one score per image"),
    (16, 5, "(256, 2, 2)", "the score map is 2×2; the losses take its mean"),
])
def test_critic_diagram_shows_each_stride_two_layer(conv_dim, repeat_num, last, verdict):
    figure = critic_diagram(Discriminator(conv_dim=conv_dim, repeat_num=repeat_num))
    written = texts(figure)
    assert f"SAGAN critic: {repeat_num} stride-2 convolutions" in written
    assert f"main.{2 * (repeat_num - 1)}" in written and f"main.{2 * repeat_num}" not in written
    assert f"({conv_dim}, 32, 32)" in written and last in written and verdict in written
    assert_readable(figure)


def test_training_diagram_takes_weights_and_schedule_from_the_config():
    default = texts(training_diagram(SaganConfig()))
    assert "λ_gp = 10, λ_id = 1, n_critic = 2" in default
    assert "(16, 1, 64, 64)\n→ (64, 1, 32, 32)" in default  # to_windows on a batch of 16
    assert "every 2nd iteration" in default and "+ 10·GP" in default
    config = SaganConfig(batch_size=4, image_size=128, num_patch=4, lambda_gp=5, lambda_id=2, n_critic=3)
    figure = training_diagram(config)
    changed = texts(figure)
    assert "λ_gp = 5, λ_id = 2, n_critic = 3" in changed
    assert "(4, 1, 128, 128)\n→ (64, 1, 32, 32)" in changed
    assert "every 3rd iteration" in changed and "+ 5·GP" in changed and "+ 2·|x_B − G(x_B)|" in changed
    assert_readable(figure)


# ------------------------------------------------------------------ SWSSL
@pytest.fixture(scope="module")
def patch_models():
    torch.manual_seed(0)
    return {name: PatchModel(backbone=name, pretrained=False) for name in ("resnet18", "resnet50")}


@pytest.mark.parametrize("backbone, grid, width, feature_map", [
    ("resnet18", WindowGrid(256, 256, 64, 32), 512, "(512, 2, 2)"),
    ("resnet50", WindowGrid(512, 384, 128, 64), 2048, "(2048, 4, 4)"),
])
def test_swssl_training_step_diagram_follows_backbone_and_grid(patch_models, backbone, grid, width, feature_map):
    model = patch_models[backbone].train()
    figure = training_step_diagram(model, grid)
    written = texts(figure)
    assert model.training  # drawing traced in eval mode and put it back
    p = grid.patch_size
    assert f"{p}×{p} patches on a {grid.rows}×{grid.cols} grid (step {grid.step_size})" in written
    assert f"→ {feature_map}" in written and f"({width} × {width})" in written
    assert f"→ embedding ({width},)" in written and f"→ projection ({width},)" in written
    assert f"→ (3, {p}, {p})" in written and "RandomSolarize (p 0.2)" in written
    assert_readable(figure)


def test_swssl_training_step_diagram_lists_the_recipes_augmentations(patch_models):
    written = texts(training_step_diagram(patch_models["resnet18"], WindowGrid(256, 256, 64, 32), category="dbt"))
    assert "GaussianBlur (p 1)" in written and "RandomSolarize" not in written  # DBT: always blur, no solarise


@pytest.mark.parametrize("backbone, grid, n_train, bank, size", [
    ("resnet18", WindowGrid(256, 256, 64, 32), 32, "(32, 512, 36)", "1.2 MB"),  # 32·512·36 float16
    ("resnet50", WindowGrid(1024, 1024, 128, 32), 1341, "(1,341, 2048, 784)", "4.3 GB"),
])
def test_swssl_evaluation_diagram_sizes_the_bank_from_its_inputs(patch_models, backbone, grid, n_train, bank,
                                                                 size):
    figure = evaluation_diagram(patch_models[backbone], grid, n_train=n_train, k=3)
    written = texts(figure)
    channels = patch_models[backbone].width
    assert bank in written and f"float16\n{size}" in written
    assert f"({channels}, {grid.positions}) per image" in written
    assert f"{grid.rows}×{grid.cols} = {grid.positions}" in written and "patch_knn (k = 3)" in written
    assert_readable(figure)
