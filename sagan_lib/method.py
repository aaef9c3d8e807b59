"""SAGAN as a registered method (`anomaly_lib.method`): its settings, step, variants, and how
a comparison trains and scores one run."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from anomaly_lib.method import Method, register

from .cli import main
from .config import SaganConfig
from .step import sagan_step
from .train import RUN_FILES, SaganTrainer

# SAGAN and its ablations: the SaganConfig changes that make each one.
VARIANTS = {
    "sagan": {},
    "sagan-no-critic": {"lambda_adv": 0.0},
    "sagan-no-synthetic": {"lambda_mse": 0.0},
    "sagan-l1-only": {"lambda_adv": 0.0, "lambda_mse": 0.0},  # the U-Net generator, L1 on normals only
    "sagan-no-codes": {"use_position_codes": False},
}
TRAINS_ON = {
    "sagan": "normals + unlabeled pool + synthetic anomalies",
    "sagan-no-critic": "normals + synthetic anomalies",
    "sagan-no-synthetic": "normals + unlabeled pool",
    "sagan-l1-only": "labeled normals",
    "sagan-no-codes": "normals + unlabeled pool + synthetic anomalies",
}
SETTING_TYPES = {f.name: f.type if f.type in (int, float, bool) else str for f in fields(SaganConfig)
                 if f.name != "select_on"}  # a comparison keeps each run's last generator


def compare_config(settings, variant: str, seed: int, run_dir: Path, device) -> SaganConfig:
    """The SaganConfig of one comparison run: `settings.sagan`, the variant's change, the budget,
    no selection.

    The learning-rate schedule keeps its proportions: decay over the same share of the run,
    updated as often relative to its length, as in the configuration given (default: the authors').
    """
    if "select_on" in settings.sagan:
        raise ValueError("the comparison keeps each run's last generator: select_on cannot be changed")
    schedule = SaganConfig(**settings.sagan)
    budget = settings.budget(variant)
    scale = budget / schedule.num_iters
    return SaganConfig(**{
        **schedule.to_dict(), **VARIANTS[variant],
        "image_size": settings.image_size, "num_iters": budget,
        "num_iters_decay": max(1, round(schedule.num_iters_decay * scale)),
        "lr_update_step": max(1, round(schedule.lr_update_step * scale)),
        "select_on": "last", "seed": seed, "device": str(device), "keep_last": 1,
        "log_step": budget, "model_save_step": budget, "sample_step": 10 ** 9,
        "model_save_dir": str(run_dir / "models"), "sample_dir": str(run_dir / "samples"),
        "save_dir": str(run_dir / "results"),
    })


def run_for_comparison(variant: str, data, settings, seed: int, run_dir: Path, device):
    """Train one variant on the split's training data (no test set: nothing to select on) and
    score the test images: (M,) scores with their (M, H, W) maps."""
    from anomaly_lib import pixel_method
    from anomaly_lib.compare import WithMaps

    from .data import MedADTrainSet
    from .predict import SPEC, WindowedGenerator

    config = compare_config(settings, variant, seed, run_dir, device)
    key = ("sagan", settings.image_size)  # the training triples, read once per comparison
    if key not in data.resized:
        data.resized[key] = MedADTrainSet(data.root, settings.image_size, progress=settings.progress)
    trainer = SaganTrainer(config, data.resized[key], log=lambda *_: None)
    if trainer.checkpoint_path.is_file():
        trainer.load()  # an interrupted run continues where it stopped
    trainer.train(progress=settings.progress)
    scores, maps = pixel_method.scored(SPEC, WindowedGenerator(trainer.G, config.num_patch), data.test_images)
    trainer.checkpoint_path.unlink()  # optimiser states were only for resuming; {num_iters}-G.ckpt stays
    return WithMaps(scores, maps)


def quick_settings() -> dict:
    """A quick comparison's SAGAN: the demo's reduced networks and schedule."""
    from .demo import DEMO_CONFIG

    return {k: v for k, v in DEMO_CONFIG.items()
            if k not in ("dataset", "image_size", "log_step", "sample_step", "model_save_step")}


def draw_figures(folder: Path) -> list:
    """The generator's diagram at the authors' size (shapes on the meta device, no weights)."""
    import torch

    from .diagrams import generator_diagram
    from .generator import Generator

    path = Path(folder) / "sagan_generator.png"
    with torch.device("meta"):
        generator = Generator()
    generator_diagram(generator, image_size=SaganConfig().image_size, path=path)
    return [path]


METHOD = register(Method(
    name="sagan", summary="Spatial-aware attention GAN: reconstruct normals, score |x − G(x)|",
    config=SaganConfig, main=main, run_files=RUN_FILES, step=sagan_step,
    variants=VARIANTS, trains_on=TRAINS_ON, compare=run_for_comparison,
    budget=(SaganConfig().num_iters, "it"), setting_types=SETTING_TYPES,
    compare_quick=quick_settings(),
    smoke_flags=("--num_iters", "2", "--num_iters_decay", "1", "--batch_size", "4", "--g_conv_dim", "8",
                 "--d_conv_dim", "8", "--g_repeat_num", "1"),
    data_flags=lambda data, run: ["--dataset", "folder", "--data_root", data, "--model_save_dir", run,
                                  "--sample_dir", Path(run) / "samples", "--save_dir", Path(run) / "results",
                                  "--log_step", "1", "--model_save_step", "1"],
    draw_figures=draw_figures,
    # each iteration sees a batch of normals (and as many unlabeled and synthetic images)
    images_per_unit=lambda settings, variant, n_normal: SaganConfig(**settings.sagan).batch_size,
))
