"""SAGAN's settings. Defaults equal the authors' `main.py`."""

from dataclasses import asdict, dataclass, fields
from typing import Optional


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
    val_holdout: int = 0  # labeled normals held out for synthetic-val (0: 10%, at least 8)
    # Paths
    model_save_dir: str = "sagan/models"
    sample_dir: str = "sagan/samples"
    save_dir: str = "sagan/results"
    # Machine
    device: str = "auto"
    seed: int = 0
    amp: bool = False
    channels_last: bool = False
    compile: bool = False

    @property
    def num_memory(self) -> int:
        return self.num_patch * self.num_patch

    def __post_init__(self):
        if self.image_size % (self.num_patch * 8):
            raise ValueError(f"image_size {self.image_size} is not divisible by num_patch·8 = {self.num_patch * 8}")
        if self.select_on not in ("last", "synthetic-val", "test"):
            raise ValueError(f"select_on must be last, synthetic-val or test, got {self.select_on!r}")
        if self.lr_decay not in ("linear", "reference"):
            raise ValueError(f"lr_decay must be linear or reference, got {self.lr_decay!r}")
        negative = [name for name in ("lambda_gp", "lambda_adv", "lambda_id", "lambda_mse") if getattr(self, name) < 0]
        if negative:
            raise ValueError(f"loss weights must be ≥ 0, got {', '.join(f'{n}={getattr(self, n)}' for n in negative)}")
        if self.n_critic < 1 or self.batch_size < 2:
            raise ValueError("n_critic must be ≥ 1 and batch_size ≥ 2")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "SaganConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})
