"""SAGAN's networks against numbers produced by the authors' own code."""

import json

import pytest
import torch

from sagan_lib import (
    Discriminator,
    Generator,
    binary_position_codes,
    from_windows,
    gradient_penalty,
    guess_generator_config,
    load_generator_checkpoint,
    make_window,
    to_windows,
    window_reverse,
)
from tests.conftest import FIXTURES

TOL = 1e-5


@pytest.fixture(scope="module")
def tiny_nets(sagan_reference):
    cfg = sagan_reference["config"]
    generator = Generator(conv_dim=cfg["conv_dim"], repeat_num=cfg["repeat_num"], num_memory=cfg["num_memory"])
    generator.load_state_dict(sagan_reference["G_state"], strict=True)
    critic = Discriminator(image_size=cfg["image_size"], conv_dim=cfg["conv_dim"], repeat_num=6)
    critic.load_state_dict(sagan_reference["D_state"], strict=True)
    return generator, critic


def test_full_size_state_dicts_match_published_keys_and_shapes():
    reference = json.loads((FIXTURES / "sagan_state_dict_shapes.json").read_text())
    nets = {
        "Generator(conv_dim=64, c_dim=0, repeat_num=6, num_memory=4)": Generator(),
        "Discriminator(image_size=64, conv_dim=64, c_dim=0, repeat_num=6)": Discriminator(),
    }
    for name, net in nets.items():
        ours = {key: list(value.shape) for key, value in net.state_dict().items()}
        assert ours == reference[name], name
    assert sum(p.numel() for p in nets[next(iter(nets))].parameters()) == 44_758_979


def test_windows_match_reference_order(sagan_reference):
    images = sagan_reference["images"]
    channels_last = make_window(images.permute(0, 2, 3, 1), window_size=32, stride=32)  # (8, 32, 32, 1)
    torch.testing.assert_close(channels_last.permute(0, 3, 1, 2), sagan_reference["windows"], rtol=0, atol=0)
    torch.testing.assert_close(to_windows(images, num_patch=2), sagan_reference["windows"], rtol=0, atol=0)


def test_window_round_trip_is_exact():
    images = torch.randn(3, 1, 48, 48)
    assert torch.equal(from_windows(to_windows(images, 3), 3), images)
    channels_last = images.permute(0, 2, 3, 1)
    windows = make_window(channels_last, window_size=16, stride=16)
    assert windows.shape == (27, 16, 16, 1)
    assert torch.equal(window_reverse(windows, 16, 48, 48), channels_last)


def test_make_window_default_stride_gives_every_overlapping_window():
    x = torch.arange(16.0).reshape(1, 4, 4, 1)
    windows = make_window(x, window_size=2)
    assert windows.shape == (9, 2, 2, 1)
    assert windows[4, :, :, 0].tolist() == [[5.0, 6.0], [9.0, 10.0]]


def test_generator_eval_output_matches(tiny_nets, sagan_reference):
    generator, _ = tiny_nets
    generator.eval()
    with torch.no_grad():
        out = generator(sagan_reference["windows"], bs=2)
    torch.testing.assert_close(out, sagan_reference["G_eval_out"], rtol=0, atol=TOL)
    torch.testing.assert_close(from_windows(out, 2), sagan_reference["reconstruction"], rtol=0, atol=TOL)
    channels_last = window_reverse(out.permute(0, 2, 3, 1), 32, 64, 64).permute(0, 3, 1, 2)
    torch.testing.assert_close(channels_last, sagan_reference["reconstruction"], rtol=0, atol=TOL)


def test_generator_train_output_matches_under_recorded_seed(tiny_nets, sagan_reference):
    generator, _ = tiny_nets
    state = {k: v.clone() for k, v in generator.state_dict().items()}
    generator.train()
    torch.manual_seed(sagan_reference["config"]["train_seed"])
    with torch.no_grad():
        out = generator(sagan_reference["windows"])  # bs inferred
    generator.load_state_dict(state)  # train mode moved the running statistics
    generator.eval()
    torch.testing.assert_close(out, sagan_reference["G_train_out"], rtol=0, atol=TOL)


def test_critic_outputs_and_gradient_penalty_match(tiny_nets, sagan_reference):
    _, critic = tiny_nets
    images = sagan_reference["images"].clone().requires_grad_(True)
    features, score = critic(images)
    torch.testing.assert_close(features, sagan_reference["D_h"], rtol=0, atol=TOL)
    torch.testing.assert_close(score, sagan_reference["D_out"], rtol=0, atol=TOL)
    penalty = gradient_penalty(score, images)
    torch.testing.assert_close(penalty, sagan_reference["gradient_penalty"], rtol=0, atol=TOL)
    penalty.backward()  # the penalty stays differentiable for the critic's update
    assert critic.conv1.weight.grad is not None


def test_binary_position_codes():
    codes = binary_position_codes(4)
    assert codes.shape == (4, 3)
    assert codes.tolist() == [[0, 0, 0], [0, 0, 1], [0, 1, 0], [0, 1, 1]]
    assert binary_position_codes(9).shape == (9, 4)
    assert binary_position_codes(9)[5].tolist() == [0, 1, 0, 1]


def test_bad_configurations_fail_at_construction():
    with pytest.raises(ValueError, match="perfect square"):
        Generator(conv_dim=8, repeat_num=1, num_memory=5)
    with pytest.raises(ValueError, match="divisible by num_patch·8"):
        Generator(conv_dim=8, repeat_num=1, num_memory=4, image_size=40)
    with pytest.raises(ValueError, match="divisible by num_patch·8"):
        to_windows(torch.zeros(1, 1, 40, 40), num_patch=2)
    with pytest.raises(ValueError, match="2\\*\\*repeat_num"):
        Discriminator(image_size=48, conv_dim=8, repeat_num=6)


def test_generator_rejects_windows_not_a_multiple_of_num_memory():
    generator = Generator(conv_dim=4, repeat_num=1, num_memory=4)
    with pytest.raises(ValueError, match="not a multiple of num_memory=4"):
        generator(torch.zeros(6, 1, 32, 32))


def test_load_published_format_plain_state_dict(tmp_path, sagan_reference):
    path = tmp_path / "SAGAN_G_tiny.ckpt"
    torch.save(sagan_reference["G_state"], path)
    generator = load_generator_checkpoint(path, conv_dim=8, repeat_num=1, num_memory=4).eval()
    with torch.no_grad():
        out = generator(sagan_reference["windows"])
    torch.testing.assert_close(out, sagan_reference["G_eval_out"], rtol=0, atol=TOL)

    kit_format = tmp_path / "kit.ckpt"
    torch.save({"G": sagan_reference["G_state"], "iteration": 3}, kit_format)
    assert isinstance(load_generator_checkpoint(kit_format, conv_dim=8, repeat_num=1), Generator)


def test_load_mismatch_lists_keys_and_guesses_config(tmp_path, sagan_reference):
    path = tmp_path / "SAGAN_G_tiny.ckpt"
    state = dict(sagan_reference["G_state"])
    state.pop("conv.weight")
    state["extra.weight"] = torch.zeros(1)
    torch.save(state, path)
    with pytest.raises(ValueError) as error:
        load_generator_checkpoint(path, conv_dim=16, repeat_num=1)
    message = str(error.value)
    assert "missing keys: " in message and "conv.weight" in message
    assert "unexpected keys: extra.weight" in message
    assert "wrongly shaped keys: layer1.0.weight: file (8, 1, 7, 7) vs model (16, 1, 7, 7)" in message
    assert "'conv_dim': 8" in message and "'repeat_num': 1" in message and "'num_memory': 4" in message


def test_guess_config_of_full_size_generator():
    guess = guess_generator_config(Generator().state_dict())
    assert guess == {"conv_dim": 64, "c_dim": 0, "repeat_num": 6, "num_memory": 4}
