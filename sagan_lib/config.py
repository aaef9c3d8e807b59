"""SAGAN's settings. Defaults equal the authors' `main.py`."""

import math
from dataclasses import asdict, dataclass, fields
from typing import Optional

from anomaly_lib.amp import AMP_DTYPE_CHOICES


@dataclass
class SaganConfig:
    # Data
    dataset: str = "rsna"  # rsna | vincxr | lag | folder
    data_root: Optional[str] = None
    image_size: int = 64
    num_patch: int = 2  # windows per side: num_memory = num_patch² windows per image
    ar: float = 0.6  # share of abnormal images in the unlabeled set
    core_percent: float = 0.6
    # Networks
    g_conv_dim: int = 64
    d_conv_dim: int = 64
    g_repeat_num: int = 6
    d_repeat_num: int = 6
    use_position_codes: bool = True  # False: all-zero codes (an ablation; the state dict is unchanged)
    # Losses. Each generator weight defaults to the authors' 1; setting one to 0 is an ablation:
    # lambda_adv = 0 drops the critic (it is neither trained nor called, and the unlabeled
    # images go unused); lambda_mse = 0 drops the synthetic anomalies (G never sees them).
    lambda_gp: float = 10.0
    lambda_adv: float = 1.0
    lambda_id: float = 1.0
    lambda_mse: float = 1.0
    # Optimisation
    batch_size: int = 16
    num_iters: int = 100000
    num_iters_decay: int = 50000
    g_lr: float = 5e-5
    d_lr: float = 5e-5
    n_critic: int = 2
    beta1: float = 0.5
    beta2: float = 0.999
    lr_decay: str = "linear"  # linear (reaches 0 at num_iters) | reference (the authors' step)
    # Steps
    log_step: int = 1000
    sample_step: int = 1000
    model_save_step: int = 1000
    lr_update_step: int = 1000
    keep_last: int = 3  # iteration snapshots kept on disk (0 keeps all)
    # Model selection: last | synthetic-val | test (leaks test labels, as the authors)
    select_on: str = "last"
    # Labeled normals held out of training, for synthetic-val and for predict's --specificity:
    # split (the last val_holdout of them; 0: 10%, at least 8) | reference (none, as the authors)
    holdout: str = "split"
    val_holdout: int = 0
    # Paths
    model_save_dir: str = "sagan/models"
    sample_dir: str = "sagan/samples"
    save_dir: str = "sagan/results"
    # Machine
    device: str = "auto"
    seed: int = 0
    amp: bool = False  # mixed precision by device (anomaly_lib/amp.py)
    amp_dtype: str = "auto"  # auto | bf16 | fp16 (forces that type; implies amp)
    channels_last: bool = False
    compile: bool = False

    @property
    def num_memory(self) -> int:
        return self.num_patch * self.num_patch

    def __post_init__(self):
        """Refuse settings that make no sense, naming the field, before any data is loaded."""
        problems = {}  # field → its first broken rule
        for name, rule, ok in self._rules():
            if not ok:
                problems.setdefault(name, f"{name} must be {rule}, got {getattr(self, name)!r}")
        if problems:
            raise ValueError("; ".join(problems.values()))
        if self.image_size % (self.num_patch * 8):
            raise ValueError(f"image_size {self.image_size} is not divisible by num_patch·8 = {self.num_patch * 8}")
        window = self.image_size // self.num_patch
        if window < 16:  # the encoder halves a window 3 times; InstanceNorm needs 2×2 at the bottom
            raise ValueError(f"image_size {self.image_size} with num_patch {self.num_patch} gives {window}×{window} "
                             "windows; the generator needs windows of at least 16×16")

    def _rules(self):
        """(field, what it must be, whether it is) for every checked field."""
        floats = [f.name for f in fields(self) if f.type is float]
        yield from ((name, "a finite number", math.isfinite(getattr(self, name))) for name in floats)
        yield from ((name, "≥ 0", getattr(self, name) >= 0) for name in floats if name.startswith("lambda_"))
        for name in ("image_size", "num_patch", "g_conv_dim", "d_conv_dim", "d_repeat_num", "num_iters",
                     "n_critic", "log_step", "sample_step", "model_save_step", "lr_update_step"):
            yield name, "≥ 1", getattr(self, name) >= 1
        for name in ("g_repeat_num", "num_iters_decay", "keep_last", "val_holdout", "seed"):
            yield name, "≥ 0", getattr(self, name) >= 0
        yield "batch_size", "≥ 2 (the critic's penalty and InstanceNorm need a batch)", self.batch_size >= 2
        yield "g_lr", "> 0", self.g_lr > 0
        yield "d_lr", "> 0", self.d_lr > 0
        yield "beta1", "in [0, 1)", 0 <= self.beta1 < 1
        yield "beta2", "in [0, 1)", 0 <= self.beta2 < 1
        yield "ar", "in [0, 1]", 0 <= self.ar <= 1
        yield "core_percent", "in (0, 1]", 0 < self.core_percent <= 1
        yield "dataset", "rsna, vincxr, lag or folder", self.dataset in ("rsna", "vincxr", "lag", "folder")
        yield "select_on", "last, synthetic-val or test", self.select_on in ("last", "synthetic-val", "test")
        yield "holdout", "split or reference", self.holdout in ("split", "reference")
        yield ("select_on", "last or test with holdout='reference' (synthetic-val needs held-out normals)",
               not (self.select_on == "synthetic-val" and self.holdout == "reference"))
        yield "lr_decay", "linear or reference", self.lr_decay in ("linear", "reference")
        yield "amp_dtype", ", ".join(AMP_DTYPE_CHOICES[:-1]) + " or " + AMP_DTYPE_CHOICES[-1], \
            self.amp_dtype in AMP_DTYPE_CHOICES

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "SaganConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


def config_from_args(args, **defaults) -> SaganConfig:
    """A SaganConfig from the flags given; flags left out keep `defaults`, then the authors' values."""
    values = dict(defaults)
    values.update({f.name: getattr(args, f.name) for f in fields(SaganConfig) if hasattr(args, f.name)})
    if str(values.get("device", "")).isdigit():
        values["device"] = f"cuda:{values['device']}"
    return SaganConfig(**values)
