"""Mixed precision by device: what `--amp` picks, and the scaled optimiser step."""

import pytest
import torch

from anomaly_lib import amp
from anomaly_lib.amp import MixedPrecision, choose_amp_dtype


def fake_gpu(monkeypatch, capability, name):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)


def test_amp_picks_bfloat16_where_native_and_float16_with_a_scaler_on_a_t4(monkeypatch):
    fake_gpu(monkeypatch, (7, 5), "Tesla T4")
    dtype, why = choose_amp_dtype("cuda", amp=True)
    assert dtype is torch.float16 and "gradient scaler" in why and "Tesla T4 (compute capability 7.5)" in why
    fake_gpu(monkeypatch, (8, 0), "NVIDIA A100")
    dtype, why = choose_amp_dtype("cuda", amp=True)
    assert dtype is torch.bfloat16 and "computes bfloat16 natively" in why
    assert choose_amp_dtype("cuda", amp=False) == (None, "float32")


def test_amp_dtype_overrides_on_any_device_and_warns_about_emulated_bfloat16(monkeypatch):
    assert choose_amp_dtype("cpu", amp=True)[0] is None  # --amp alone: float32 on a CPU
    assert "only on CUDA GPUs" in choose_amp_dtype("cpu", amp=True)[1]
    assert choose_amp_dtype("cpu", amp_dtype="fp16")[0] is torch.float16  # implies --amp
    assert choose_amp_dtype("cpu", amp_dtype="bf16")[0] is torch.bfloat16
    fake_gpu(monkeypatch, (7, 5), "Tesla T4")
    dtype, why = choose_amp_dtype("cuda", amp=True, amp_dtype="bf16")
    assert dtype is torch.bfloat16 and "emulated and slow" in why
    with pytest.raises(ValueError, match="amp_dtype must be one of auto, bf16, fp16, got 'fp8'"):
        choose_amp_dtype("cpu", amp_dtype="fp8")


def test_float16_step_skips_overflowing_gradients_and_halves_the_scale():
    layer = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    precision = MixedPrecision("cpu", torch.float16)
    before = [p.detach().clone() for p in layer.parameters()]
    with precision.autocast():
        out = layer(torch.full((2, 4), 1e4))  # float16 output
    assert out.dtype is torch.float16
    assert precision.step(out.float().sum(), optimizer)  # 1e4 · 65536 overflows float16: skipped
    assert precision.scale == 2.0 ** 15 and precision.skipped_in_a_row == 1 and not precision.diverged
    assert all(torch.equal(a, b) for a, b in zip(before, layer.parameters()))
    with precision.autocast():
        out = layer(torch.ones(1, 4))  # gradients 1 · 32768: no overflow
    assert not precision.step(out.float().sum(), optimizer)
    assert precision.skipped_in_a_row == 0  # the count of skips in a row starts again
    assert not all(torch.equal(a, b) for a, b in zip(before, layer.parameters()))
    precision.skipped_in_a_row = amp.MAX_SKIPPED_IN_A_ROW
    assert precision.diverged and precision.state_dict()["skipped_in_a_row"] == amp.MAX_SKIPPED_IN_A_ROW


def test_float32_and_bfloat16_have_no_scaler_and_never_skip():
    for dtype in (None, torch.bfloat16):
        precision = MixedPrecision("cpu", dtype)
        assert precision.scale == 1.0 and precision.state_dict() == {}
        precision.load_state_dict({"scale": 8.0})  # a float16 run's state is ignored, not an error
        layer = torch.nn.Linear(2, 1)
        assert not precision.step(layer(torch.ones(1, 2)).sum(), torch.optim.SGD(layer.parameters(), lr=1.0))


def test_scaler_state_round_trip():
    precision = MixedPrecision("cpu", torch.float16)
    precision.load_state_dict({**precision.state_dict(), "scale": 256.0})
    assert precision.scale == 256.0
    fresh = MixedPrecision("cpu", torch.float16)
    fresh.load_state_dict(precision.state_dict())
    assert fresh.scale == 256.0
    fresh.load_state_dict({})  # saved by a float32 run: keeps its own scale
    assert fresh.scale == 256.0 and amp.NATIVE_BF16_CAPABILITY == (8, 0)
