import pytest
import torch

from anomaly_lib.device import describe_device, pick_device, smoke_mode


def test_cpu_is_always_available():
    assert pick_device("cpu") == torch.device("cpu")
    assert describe_device("cpu") == f"cpu ({torch.get_num_threads()} threads)"


def test_auto_prefers_cuda():
    device = pick_device("auto")
    expected = "cuda" if torch.cuda.is_available() else device.type
    assert device.type == expected
    assert device.type in ("cuda", "mps", "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_unavailable_cuda_is_an_error():
    with pytest.raises(ValueError, match="CUDA is not available"):
        pick_device("cuda")


def test_unknown_device_is_an_error():
    with pytest.raises(ValueError, match="'banana'"):
        pick_device("banana")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("true", True), ("YES", True), ("0", False), ("", False), ("no", False)],
)
def test_smoke_mode_reads_environment(monkeypatch, value, expected):
    monkeypatch.setenv("KIT_SMOKE", value)
    assert smoke_mode() is expected


def test_smoke_mode_off_when_unset(monkeypatch):
    monkeypatch.delenv("KIT_SMOKE", raising=False)
    assert smoke_mode() is False
