"""SAGAN in float16 on the CPU: the gradient scaler, the penalty's double backward, the guard, resume."""

import math

import pytest
import torch

from anomaly_lib.amp import MAX_SKIPPED_IN_A_ROW
from anomaly_lib.phantoms import make_phantom_dataset
from sagan_lib.cli import main
from sagan_lib.config import SaganConfig
from sagan_lib.data import MedADTrainSet
from sagan_lib.train import SaganTrainer, TrainingDiverged

COUNTS = {"train_normal": 12, "unlabeled_normal": 6, "unlabeled_abnormal": 8, "test_normal": 2, "test_abnormal": 2}
TINY = dict(image_size=32, g_conv_dim=4, d_conv_dim=4, g_repeat_num=1, d_repeat_num=5, batch_size=4,
            num_iters=8, device="cpu")


@pytest.fixture(scope="module")
def medad_root(tmp_path_factory):
    return make_phantom_dataset(tmp_path_factory.mktemp("medad") / "data", "medad", 32, COUNTS, seed=4)


def trainer(root, folder, **changes):
    config = SaganConfig(dataset="folder", data_root=str(root), model_save_dir=str(folder / "models"),
                         sample_dir=str(folder / "samples"), **{**TINY, **changes})
    return SaganTrainer(config, MedADTrainSet(root, 32, progress=False), log=lambda *_: None)


def weights(module):
    return [p.detach().clone() for p in module.parameters()]


def test_penalty_overflow_is_skipped_by_the_scaler_not_taken_for_divergence(medad_root, tmp_path):
    """At the scaler's first scale, 2¹⁶, the penalty's scaled inner backward overflows float16."""
    fp16 = trainer(medad_root, tmp_path, amp_dtype="fp16")
    d_before = weights(fp16.D)
    first = fp16.train_step()  # no TrainingDiverged
    assert first["D/skipped"] == 1.0 and not math.isfinite(first["D/loss_gp"])
    assert all(math.isfinite(first[name]) for name in ("D/loss_real", "D/loss_fake"))
    assert all(torch.equal(a, b) for a, b in zip(d_before, fp16.D.parameters()))  # the step was skipped
    assert fp16.d_amp.scale == 2.0 ** 15
    second = fp16.train_step()  # now the scale fits: both networks step
    assert second["D/skipped"] == 0.0 and all(math.isfinite(v) for v in second.values())
    assert not all(torch.equal(a, b) for a, b in zip(d_before, fp16.D.parameters()))
    fp16.train(progress=False)  # the loop's averages leave the skipped step's infinite penalty out
    assert all(math.isfinite(v) for entry in fp16.history for v in entry.values())


def test_float16_losses_stay_close_to_float32(medad_root, tmp_path):
    """Within 5 %: float16 keeps about 3 significant digits, and at this toy size (4 channels)
    even the first generator loss, on the same weights, differs by 2 % (bfloat16: 1 %)."""
    fp32, fp16 = trainer(medad_root, tmp_path), trainer(medad_root, tmp_path, amp_dtype="fp16")
    for _ in range(4):
        expected, actual = fp32.train_step(), fp16.train_step()
        for name in ("D/loss_real", "D/loss_fake", "G/loss_id", "G/loss_mse", "G/loss"):
            if name in expected:
                assert actual[name] == pytest.approx(expected[name], rel=5e-2, abs=2e-3), name
        if actual.get("D/skipped") == 0.0:
            assert actual["D/loss_gp"] == pytest.approx(expected["D/loss_gp"], rel=5e-2, abs=2e-3)


def test_genuine_nan_still_stops_training_in_float16(medad_root, tmp_path):
    """A NaN critic score is divergence even in a step the scaler skips."""
    fp16 = trainer(medad_root, tmp_path, amp_dtype="fp16")
    with torch.no_grad():
        # the centre tap: at 32 px conv1 sees a 1×1 map, so a corner tap multiplies only padding, which
        # oneDNN's convolution (torch's choice on some CPUs) skips instead of computing NaN × 0
        fp16.D.conv1.weight[0, 0, 1, 1] = float("nan")
    with pytest.raises(TrainingDiverged, match="non-finite D/loss_real, D/loss_fake.* at iteration 1"):
        fp16.train_step()


def test_twenty_skipped_steps_in_a_row_stop_training(medad_root, tmp_path):
    """Gradients that are inf/NaN at every scale over a range of 2²⁰ are not an overflow."""
    fp16 = trainer(medad_root, tmp_path, amp_dtype="fp16")
    fp16.d_amp.skipped_in_a_row = MAX_SKIPPED_IN_A_ROW - 1  # as if 19 steps had been skipped
    with pytest.raises(TrainingDiverged, match="gradients of D were inf/NaN in the last 20 steps.*--amp_dtype bf16"):
        fp16.train_step()  # the 20th: at 2¹⁶ the penalty overflows


def test_float16_resume_is_exact_with_the_scaler_state(medad_root, tmp_path):
    first = trainer(medad_root, tmp_path, amp_dtype="fp16")
    for _ in range(3):
        first.train_step()
    path = first.save()
    scales = (first.d_amp.scale, first.g_amp.scale)
    assert torch.load(path, weights_only=True)["amp"]["D"]["scale"] == scales[0] == 2.0 ** 15
    expected = [first.train_step() for _ in range(3)]

    torch.manual_seed(999)
    resumed = trainer(medad_root, tmp_path, amp_dtype="fp16")
    resumed.load(path)
    assert (resumed.d_amp.scale, resumed.g_amp.scale) == scales
    assert [resumed.train_step() for _ in range(3)] == expected


def test_config_and_command_line_say_which_precision(medad_root, tmp_path, capsys):
    with pytest.raises(ValueError, match="amp_dtype must be auto, bf16 or fp16, got 'half'"):
        SaganConfig(amp_dtype="half")
    assert main(["--mode", "train", "--amp_dtype", "half", "--data_root", str(medad_root)]) == 1
    assert capsys.readouterr().err == "error: amp_dtype must be auto, bf16 or fp16, got 'half'\n"
    assert main(["--mode", "train", "--dataset", "folder", "--data_root", str(medad_root), "--image_size", "32",
                 "--g_conv_dim", "4", "--d_conv_dim", "4", "--g_repeat_num", "1", "--d_repeat_num", "5",
                 "--batch_size", "4", "--num_iters", "2", "--model_save_dir", str(tmp_path / "m"),
                 "--sample_dir", str(tmp_path / "s"), "--device", "cpu", "--amp", "--quiet"]) == 0
    assert "precision: float32: --amp mixes precisions only on CUDA GPUs" in capsys.readouterr().out
