"""Mixed precision by device: what `--amp` means here, the autocast region and the gradient scaler.

`--amp` runs the networks' forward passes under `torch.autocast` in a 16-bit type, which GPUs
with tensor cores compute several times faster than float32. Which 16-bit type:

* bfloat16 on GPUs that compute it natively (compute capability ≥ 8.0: A100, L4, H100, RTX 30xx
  and later). It has float32's range, so gradients need no scaling.
* float16 with a gradient scaler on older GPUs (a T4 is 7.5, Colab's free GPU). `torch.cuda.
  is_bf16_supported()` can say yes on a T4, but there bfloat16 is emulated and slow. float16's
  small range lets small gradients underflow to 0, so the loss is multiplied by a large factor
  before backward and the gradients divided by it before the step (`torch.amp.GradScaler`);
  a step whose gradients overflowed to inf/NaN is skipped and the factor halved.
* float32 (no autocast) on a CPU or Apple GPU: autocast rarely pays there. `--amp_dtype bf16` or
  `--amp_dtype fp16` forces a type on any device (float16 on a CPU needs torch ≥ 2.5; the tests
  use it to check the float16 path without a GPU).
"""

from __future__ import annotations

import contextlib

import torch

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
DTYPE_NAMES = {torch.bfloat16: "bfloat16", torch.float16: "float16"}
AMP_DTYPE_CHOICES = ("auto", *AMP_DTYPES)
NATIVE_BF16_CAPABILITY = (8, 0)
# A scaler halves its scale at every skipped step, so this many skips in a row mean the
# gradients were inf/NaN at every scale over a range of 2^20: not an overflow but divergence.
MAX_SKIPPED_IN_A_ROW = 20


def choose_amp_dtype(device, amp: bool = False, amp_dtype: str = "auto") -> tuple[torch.dtype | None, str]:
    """The autocast type for `--amp` / `--amp_dtype` on `device` (None: float32), and why, in words.

    `amp_dtype` "bf16" or "fp16" forces that type (and implies `amp`); "auto" lets `amp` choose by
    device as the module docstring says.
    """
    if amp_dtype not in AMP_DTYPE_CHOICES:
        raise ValueError(f"amp_dtype must be one of {', '.join(AMP_DTYPE_CHOICES)}, got {amp_dtype!r}")
    device = torch.device(device)
    if amp_dtype != "auto":
        reason = f"{DTYPE_NAMES[AMP_DTYPES[amp_dtype]]} autocast (--amp_dtype {amp_dtype})"
        if amp_dtype == "fp16":
            reason += " with a gradient scaler"
        if amp_dtype == "bf16" and device.type == "cuda" and not native_bf16(device):
            reason += "; WARNING: this GPU has no native bfloat16, so it is emulated and slow"
        return AMP_DTYPES[amp_dtype], reason
    if not amp:
        return None, "float32"
    if device.type != "cuda":
        return None, (f"float32: --amp mixes precisions only on CUDA GPUs; on the {device.type} "
                      "--amp_dtype bf16|fp16 forces it")
    major, minor = torch.cuda.get_device_capability(device)
    gpu = f"{torch.cuda.get_device_name(device)} (compute capability {major}.{minor})"
    if native_bf16(device):
        return torch.bfloat16, f"bfloat16 autocast: {gpu} computes bfloat16 natively"
    return torch.float16, f"float16 autocast with a gradient scaler: {gpu} has no native bfloat16"


def native_bf16(device) -> bool:
    """Whether a CUDA GPU computes bfloat16 in hardware (compute capability ≥ 8.0)."""
    return torch.cuda.get_device_capability(device) >= NATIVE_BF16_CAPABILITY


class MixedPrecision:
    """Autocast in `dtype` (None: float32) and, for float16, a gradient scaler for one optimiser.

    `step(loss, optimizer)` does zero_grad → backward → (clip) → optimizer step in every precision;
    with float16 the loss is scaled and a step with inf/NaN gradients is skipped. `init_scale` is
    the scaler's first scale (PyTorch's default 2¹⁶ suits gradients of order 1; much larger
    gradients would be skipped until the scale has halved down to fit).
    """

    def __init__(self, device, dtype: torch.dtype | None = None, init_scale: float = 2.0 ** 16):
        self.device_type = torch.device(device).type
        self.dtype = dtype
        self.scaler = torch.amp.GradScaler(self.device_type, init_scale=init_scale,
                                           enabled=dtype == torch.float16)
        self.skipped_in_a_row = 0

    def autocast(self):
        """The region whose operations run in `dtype` (a no-op in float32)."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    @property
    def scale(self) -> float:
        """The current loss scale (1.0 without a scaler)."""
        return self.scaler.get_scale() if self.scaler.is_enabled() else 1.0

    def step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer, clip=None) -> bool:
        """Backward and optimiser step; `clip()` sees unscaled gradients. Returns True if skipped.

        The scaler skips the step when a gradient is inf or NaN and then halves its scale, so
        a skip is recognised by the scale going down.
        """
        optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if clip is not None:
            self.scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
            clip()
        scale_before = self.scale
        self.scaler.step(optimizer)
        self.scaler.update()
        skipped = self.scale < scale_before
        self.skipped_in_a_row = self.skipped_in_a_row + 1 if skipped else 0
        return skipped

    @property
    def diverged(self) -> bool:
        """Whether the last MAX_SKIPPED_IN_A_ROW steps were all skipped."""
        return self.skipped_in_a_row >= MAX_SKIPPED_IN_A_ROW

    def divergence(self, when: str, network: str = "") -> str:
        """The error message once ``diverged``: of which ``network``, ``when`` (e.g. "iteration 7")."""
        of = f" of {network}" if network else ""
        return (f"the float16 gradients{of} were inf/NaN in the last {self.skipped_in_a_row} steps ({when}), at "
                f"every loss scale down to {self.scale:g}. Train with --amp_dtype bf16 (on a GPU with native "
                "bfloat16) or in float32 (no --amp)")

    def state_dict(self) -> dict:
        if not self.scaler.is_enabled():
            return {}  # nothing to keep in float32 or bfloat16
        return {**self.scaler.state_dict(), "skipped_in_a_row": self.skipped_in_a_row}

    def load_state_dict(self, state: dict) -> None:
        if state and self.scaler.is_enabled():  # a float32/bfloat16 run saved no scaler
            state = dict(state)
            self.skipped_in_a_row = state.pop("skipped_in_a_row", 0)
            self.scaler.load_state_dict(state)
