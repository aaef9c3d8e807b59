"""The convolutional autoencoder as a registered method: its network, its step, its scoring.

    loss  = mean |x − AE(x)|            on labeled normals x (Adam)
    map   = |x − AE(x)| / 2 per pixel   (images in [-1, 1], so the map is in [0, 1])
    score = mean of the map

Everything else (the loop, checkpoints and resume, held-out calibration, test, predict, the
demo and the command line) is the engine's: `anomaly_lib.engine` and `anomaly_lib.pixel_method`.

    python -m autoencoder_lib --mode demo
    python -m autoencoder_lib --data_root data/RSNA --save_dir runs/ae --num_iters 5000
    python -m autoencoder_lib --mode predict --checkpoint runs/ae/last.ckpt --input new/ --save_dir out \\
        --specificity 0.95
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from anomaly_lib import pixel_method
from anomaly_lib.engine import BatchStream, train_loop
from anomaly_lib.method import Method, register


@dataclass
class AutoencoderConfig:
    """A convolutional autoencoder trained with L1 on a Med-AD folder's labeled normals."""

    data_root: str = None  # a Med-AD folder: images/ + data.json
    image_size: int = 64  # a multiple of 16 (four halvings)
    latent_size: int = 16  # the bottleneck: numbers every output must pass through
    width: int = 32  # channels of the first convolution
    batch_size: int = 32
    lr: float = 1e-3
    num_iters: int = 2000
    log_step: int = 100
    model_save_step: int = 500
    holdout: str = "split"  # split: keep the last val_holdout normals out, to set thresholds; reference: none
    val_holdout: int = 0  # 0: 10 %, at least 8
    seed: int = 0
    device: str = "auto"
    save_dir: str = "runs/autoencoder"

    def __post_init__(self):
        rules = [("image_size", "a multiple of 16, ≥ 16", self.image_size >= 16 and self.image_size % 16 == 0),
                 ("latent_size", "≥ 1", self.latent_size >= 1), ("width", "≥ 1", self.width >= 1),
                 ("batch_size", "≥ 2 (BatchNorm)", self.batch_size >= 2),
                 ("lr", "a number > 0", math.isfinite(self.lr) and self.lr > 0),
                 ("num_iters", "≥ 0", self.num_iters >= 0), ("log_step", "≥ 1", self.log_step >= 1),
                 ("model_save_step", "≥ 1", self.model_save_step >= 1), ("seed", "≥ 0", self.seed >= 0)]
        problems = [f"--{name} must be {rule}, got {getattr(self, name)!r}" for name, rule, ok in rules if not ok]
        if problems:
            raise ValueError("; ".join(problems))


def _down(dim_in: int, dim_out: int) -> list:
    return [nn.Conv2d(dim_in, dim_out, 4, stride=2, padding=1), nn.BatchNorm2d(dim_out), nn.LeakyReLU(0.2)]


def _up(dim_in: int, dim_out: int) -> list:
    return [nn.ConvTranspose2d(dim_in, dim_out, 4, stride=2, padding=1), nn.BatchNorm2d(dim_out), nn.ReLU()]


class ConvAutoencoder(nn.Module):
    """Four stride-2 convolutions down, a `latent_size` bottleneck, four transposed convolutions up.

    Unlike SAGAN's generator there are no skip connections and no residual head, so everything
    the output shows has to pass through `latent_size` numbers: the network cannot copy its input.
    """

    def __init__(self, image_size: int = 64, latent_size: int = 16, width: int = 32):
        super().__init__()
        if image_size % 16:
            raise ValueError(f"the autoencoder halves the image four times: image_size must be a multiple "
                             f"of 16, got {image_size}")
        self.side, self.channels = image_size // 16, 8 * width
        self.encoder = nn.Sequential(*_down(1, width), *_down(width, 2 * width), *_down(2 * width, 4 * width),
                                     *_down(4 * width, 8 * width))
        flat = self.channels * self.side ** 2
        self.to_latent = nn.Linear(flat, latent_size)
        self.from_latent = nn.Linear(latent_size, flat)
        self.decoder = nn.Sequential(*_up(8 * width, 4 * width), *_up(4 * width, 2 * width), *_up(2 * width, width),
                                     nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.encoder(x)  # (N, 8w, H/16, W/16)
        z = self.to_latent(h.flatten(1))  # (N, latent_size)
        h = self.from_latent(z).reshape(-1, self.channels, self.side, self.side)  # (N, 8w, H/16, W/16)
        return self.decoder(h)  # (N, 1, H, W) in [-1, 1]


def autoencoder_step(model, optimizer, x: torch.Tensor) -> dict:
    """One step on normals `x` (B, 1, H, W): L1 reconstruction loss, backward, Adam."""
    loss = (x - model(x)).abs().mean()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return {"AE/loss_l1": loss.item()}


def score_maps(model, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 1, H, W) → scores (N,) and maps (N, H, W): |x − AE(x)| / 2 and its mean."""
    maps = (images - model(images)).abs()[:, 0] / 2  # (N, H, W)
    return maps.mean(dim=(1, 2)), maps


class AutoencoderRun(pixel_method.PixelRun):
    """The engine's view of a training run: one unit is one iteration of `autoencoder_step`."""

    unit, unit_key, desc, what = "it", "iteration", "autoencoder", "autoencoder training checkpoint"
    network_fields = ("image_size", "latent_size", "width")

    def __init__(self, config: AutoencoderConfig, normals: torch.Tensor, device, log=print):
        model = ConvAutoencoder(config.image_size, config.latent_size, config.width).to(device)
        super().__init__(SPEC, config, model, config.save_dir, log)
        self.normals, self.device = normals, device  # (N, 1, H, W) in [-1, 1]
        self.optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
        self.batches = BatchStream(len(normals), config.batch_size, config.seed)

    def run_unit(self) -> dict:
        self.model.train()
        values = autoencoder_step(self.model, self.optimizer, self.normals[self.batches.next()].to(self.device))
        self.check_finite(values, f"iteration {self.done + 1}")
        return values

    def networks(self) -> dict:
        return {"model": self.model}

    def state_dict(self) -> dict:
        return {"optimizer": self.optimizer.state_dict(), "batches": self.batches.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.batches.load_state_dict(state["batches"])


def model_from(state: dict, config: AutoencoderConfig) -> ConvAutoencoder:
    model = ConvAutoencoder(config.image_size, config.latent_size, config.width)
    model.load_state_dict(state["model"])
    return model


SPEC = pixel_method.PixelMethod(
    name="autoencoder", config=AutoencoderConfig, make_run=AutoencoderRun, model_from=model_from,
    score_maps=score_maps, network_fields=AutoencoderRun.network_fields,
    map_label="pixel anomaly |x − AE(x)| / 2 (the image score is its mean)",
    demo={"num_iters": 300, "width": 16, "log_step": 100, "model_save_step": 300})


def main(argv=None) -> int:
    """``python -m autoencoder_lib``: train, test, predict or the demo (`anomaly_lib.pixel_method`)."""
    return pixel_method.main(SPEC, argv)


def trained(config: AutoencoderConfig, normals: torch.Tensor, device="cpu", progress: bool = False) -> AutoencoderRun:
    """A run trained on `normals` (N, 1, H, W) in [-1, 1], in `config.save_dir`; an interrupted one
    continues where it stopped. Its `model` scores with `pixel_method.scored(SPEC, run.model, images)`."""
    torch.manual_seed(config.seed)
    run = AutoencoderRun(config, normals, device, log=lambda *_: None)
    if run.checkpoint_path.is_file():
        run.load(map_location=device)
    train_loop(run, config.num_iters, progress, log_every=config.log_step, save_every=config.model_save_step)
    return run


def run_for_comparison(variant: str, data, settings, seed: int, run_dir, device):
    """Train on the split's labeled normals (no held-out set: nothing to select) and score the test images."""
    budget, batch = settings.budget(variant), AutoencoderConfig(**settings.autoencoder).batch_size
    config = AutoencoderConfig(**{**settings.autoencoder, "image_size": settings.image_size, "num_iters": budget,
                                  "batch_size": min(batch, len(data.normals)),  # a small split: all its normals
                                  "log_step": max(budget, 1), "model_save_step": max(budget, 1), "seed": seed,
                                  "save_dir": str(run_dir), "device": str(device)})
    from anomaly_lib.compare import WithMaps

    run = trained(config, data.normals, device, settings.progress)
    return WithMaps(*pixel_method.scored(SPEC, run.model, data.test_images))


def describe(settings) -> str:
    config = AutoencoderConfig(**settings.autoencoder)
    return f"labeled normals, latent {config.latent_size}, width {config.width}"


METHOD = register(Method(
    name="autoencoder", summary="Convolutional autoencoder: L1 on normals, score |x − AE(x)|",
    config=AutoencoderConfig, main=main, run_files=pixel_method.RUN_FILES, step=autoencoder_step,
    trains_on={"autoencoder": describe}, compare=run_for_comparison, budget=(5000, "it"), baseline=True,
    setting_types={"latent_size": int, "width": int, "batch_size": int, "lr": float}, compare_quick={"width": 16},
    smoke_flags=("--num_iters", "2", "--batch_size", "4", "--width", "4"),
    data_flags=lambda data, run: ["--data_root", data, "--save_dir", run, "--log_step", "1",
                                  "--model_save_step", "1"],
    images_per_unit=lambda settings, variant, n_normal: min(AutoencoderConfig(**settings.autoencoder).batch_size,
                                                            n_normal),
))
