"""Training SWSSL: the authors' optimiser and step, with resumable checkpoints.

One step (as the authors; `step.py`): ``p1 = model(view1)[0]``, ``pn = model(neighbour)[0]``,
``p2 = model(view2)[0]``; ``loss = twin_loss(p1, p2, f_neg=pn, target=similarity)``; SGD
(lr 1e-4, momentum 0.9, weight decay 1e-5) after clipping every gradient to ±0.1.

Differences from the authors' script, all on purpose:

* Checkpoint selection is ``"last"`` by default: the model after the final epoch. The authors
  keep the checkpoint with the best *test* AUC, which uses test labels to pick the model;
  ``selection="test"`` reproduces that and warns about it.
* ``save_dir/last.pt`` is written atomically after every epoch with the optimiser, the epoch
  and every random state, so ``resume=True`` continues where training stopped (bit for bit
  with ``num_workers=0``; DataLoader workers draw fresh seeds when they restart).
* A NaN or infinite loss stops training with a clear error; the last good checkpoint stays.

Mixed precision (``amp``, ``amp_dtype``; see anomaly_lib/amp.py): the three forward passes run
under autocast, the twin loss (its z-scores and normalisations) in float32; with float16 a
gradient scaler scales the loss, unscales the gradients before the clipping and skips a step
whose gradients overflowed (the loss itself is unscaled, so the NaN stop is unaffected). The
scaler starts at 1, not PyTorch's 2¹⁶: see ``TWIN_LOSS_INIT_SCALE``.

Several processes (``torchrun --nproc_per_node N -m swssl_lib …``; see anomaly_lib/distributed.py):
each process reads its share of one seeded shuffled order (``DistributedSampler``), B/N patches.
The twin loss is a statistic of the whole batch (z-scores over the batch, C = z1ᵀ z2 / B), so
every process gathers all projections with ``torch.distributed.nn.all_gather`` and computes the
same full loss. Its backward hands each process the sum over processes of the gradients for
its own rows, N times its share of dL/dθ; DDP averages over the N processes, which leaves dL/dθ,
exactly one process's gradient. BatchNorm becomes SyncBatchNorm on GPUs, so its statistics are
the whole batch's too; SyncBatchNorm does not run on a CPU, so CPU processes keep per-process
BatchNorm statistics (a warning says so). The patches and augmentations are drawn by each
process's own loader, seeded by (seed, epoch, rank): the same distribution as one process, not
the same draws.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler
from tqdm.auto import tqdm

from anomaly_lib import distributed
from anomaly_lib.amp import AMP_DTYPE_CHOICES, MixedPrecision, choose_amp_dtype
from anomaly_lib.checkpoints import (
    CheckpointError,
    atomic_save,
    load_checkpoint_file,
    refuse_non_finite_weights,
    state_dict_mismatch,
)
from anomaly_lib.engine import Run, TrainingDiverged, check_resume, train_loop
from anomaly_lib.runs import claim_run_folder

from .data import patch_grid_problem
from .loss import VARIANTS as LOSS_VARIANTS
from .step import swssl_step as train_step

SELECTIONS = ("last", "test")
# The files a run writes to save_dir, its resume checkpoint first (see anomaly_lib.runs).
RUN_FILES = ("last.pt", "best.pt", "history.json")
# Settings that change the model's shapes: a checkpoint only resumes with the same values.
NETWORK_FIELDS = ("backbone",)
# The twin loss sums over the feature dimensions (2048 for wide_resnet50_2) and its neighbour
# term over the batch, so its gradients are large (up to 3·10⁴ for a randomly initialised
# wide_resnet50_2 on eight 128² patches): they need no scaling up to survive float16. The
# float16 scaler starts at 1 and halves only on overflow; PyTorch's default start, 2¹⁶, would
# skip the first ~16 steps, several epochs at the authors' batch of 300.
TWIN_LOSS_INIT_SCALE = 1.0
TEST_SELECTION_WARNING = (
    "selection='test' keeps the checkpoint with the best TEST AUC, as the authors do. "
    "This uses the test labels to choose the model, so the AUC it reports is optimistic."
)


@dataclass
class TrainConfig:
    """Hyper-parameters of a run: the authors' values, except ``epochs`` (their script runs
    "10000" and keeps the best test AUC; 100 with ``selection="last"`` is the kit's choice)."""

    category: str = "chest"
    image_size: tuple[int, int] = (1024, 1024)  # (height, width)
    patch_size: int = 128
    step_size: int = 32
    batch_size: int = 300
    lr: float = 1e-4
    momentum: float = 0.9
    weight_decay: float = 1e-5
    clip_value: float = 0.1
    epochs: int = 100
    eval_every: int = 10
    selection: str = "last"
    loss_variant: str = "paper"
    normalization: str = "default"
    backbone: str = "wide_resnet50_2"
    pretrained: bool = True
    seed: int = 0
    amp: bool = False  # mixed precision by device (anomaly_lib/amp.py)
    amp_dtype: str = "auto"  # auto | bf16 | fp16 (forces that type; implies amp)

    def __post_init__(self):
        """Refuse settings that make no sense, naming the flag, before any image is read."""
        height, width = self.image_size
        rules = [
            ("patch_size", "≥ 1", self.patch_size >= 1),
            ("step_size", "≥ 1", self.step_size >= 1),
            ("batch_size", "≥ 2 (the twin loss standardises over the batch; BatchNorm needs 2)",
             self.batch_size >= 2),
            ("lr", "a number > 0", math.isfinite(self.lr) and self.lr > 0),
            ("momentum", "in [0, 1)", 0 <= self.momentum < 1),
            ("weight_decay", "a number ≥ 0", math.isfinite(self.weight_decay) and self.weight_decay >= 0),
            ("clip_value", "a number > 0", math.isfinite(self.clip_value) and self.clip_value > 0),
            ("epochs", "≥ 0 (0 evaluates the untrained model)", self.epochs >= 0),
            ("eval_every", "≥ 1", self.eval_every >= 1),
            ("seed", "≥ 0", self.seed >= 0),
            ("selection", f"one of {SELECTIONS}", self.selection in SELECTIONS),
            ("loss_variant", f"one of {LOSS_VARIANTS}", self.loss_variant in LOSS_VARIANTS),
            ("amp_dtype", f"one of {AMP_DTYPE_CHOICES}", self.amp_dtype in AMP_DTYPE_CHOICES),
        ]
        problems = [f"--{name} must be {rule}, got {getattr(self, name)!r}" for name, rule, ok in rules if not ok]
        if not problems and min(height, width) < self.patch_size + self.step_size:
            problems.append(f"--image_size {height}×{width} is too small for --patch_size {self.patch_size} and "
                            f"--step_size {self.step_size}: each side needs ≥ {self.patch_size + self.step_size}")
        if not problems and self.epochs > 0:  # training draws neighbouring patches: the grid needs two
            problems += [p for p in [patch_grid_problem(self.image_size, self.patch_size, self.step_size)] if p]
        if problems:
            raise ValueError("; ".join(problems))


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.SGD:
    return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                           weight_decay=config.weight_decay)


def check_batch_fits(n_images: int, batch_size: int) -> None:
    """An epoch draws one patch per training image: refuse when it would not fill one batch."""
    if n_images < 2:
        raise ValueError(f"SWSSL needs at least 2 training images, found {n_images}")
    if n_images < batch_size:
        raise ValueError(f"an epoch draws one patch per training image, and {n_images} training images make "
                         f"no full batch of --batch_size {batch_size}: use a batch size from 2 to {n_images}, "
                         "or more images")


def patch_loader(dataset, config: TrainConfig, num_workers: int = 0) -> DataLoader:
    """Shuffled training batches; a last batch of one is dropped (the loss needs ≥ 2).

    Under torchrun each process reads its share of one shuffled order, seeded by
    ``config.seed`` and the epoch, in batches of batch_size / N (the last few images that do not
    split evenly over the processes are left out of that epoch).
    """
    check_batch_fits(len(dataset), config.batch_size)
    if distributed.world_size() == 1:
        return DataLoader(dataset, batch_size=config.batch_size, shuffle=True,
                          drop_last=len(dataset) % config.batch_size == 1,
                          num_workers=num_workers, persistent_workers=num_workers > 0)
    sampler = DistributedSampler(dataset, seed=config.seed, drop_last=True)
    batch_size = distributed.local_batch_size(config.batch_size)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=len(sampler) % batch_size == 1,
                      num_workers=num_workers, persistent_workers=num_workers > 0)


def parallel_model(model: nn.Module, device, log=print) -> nn.Module:
    """The model to train: itself in one process; under torchrun DDP, with SyncBatchNorm on GPUs."""
    if distributed.world_size() == 1:
        return model
    if torch.device(device).type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)  # in place: the same parameters
    else:
        log("WARNING: SyncBatchNorm needs GPUs, so on the CPU each process normalises with its own "
            "share's BatchNorm statistics: the steps differ slightly from one process on the whole batch")
    return distributed.data_parallel(model, device)


def load_checkpoint(path, map_location="cpu") -> dict:
    """A checkpoint of ``fit`` (``SwsslRun.save``), or a plain state dict (as the authors save), as
    ``{"model": state dict, …}``; ``CheckpointError`` for anything else."""
    checkpoint = load_checkpoint_file(path, map_location, what="SWSSL checkpoint")
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"{path} holds a {type(checkpoint).__name__}, not an SWSSL checkpoint or state dict")
    if {"G", "D"} <= set(checkpoint):
        raise CheckpointError(f"{path} is a SAGAN checkpoint (keys G, D, …), not SWSSL weights; "
                              "python -m sagan_lib reads it")
    if "model" not in checkpoint:  # the authors' plain state dict
        checkpoint = {"model": checkpoint, "epoch": None}
    state = checkpoint["model"]
    if not isinstance(state, dict) or not state or not all(torch.is_tensor(v) for v in state.values()):
        raise CheckpointError(f"{path} is not an SWSSL checkpoint: it holds neither a state dict of tensors "
                              "nor one under the key 'model'")
    return checkpoint


def load_weights(model: nn.Module, checkpoint: dict, path) -> nn.Module:
    """Load ``checkpoint["model"]`` into ``model`` (strict), naming the keys that do not fit."""
    mismatch = state_dict_mismatch(model.state_dict(), checkpoint["model"])
    if mismatch:
        saved = (checkpoint.get("config") or {}).get("backbone")
        hint = f"it was trained with --backbone {saved}" if saved else "was it made with another --backbone?"
        raise CheckpointError("\n".join([f"{path} does not fit this PatchModel ({hint})", *mismatch]))
    refuse_non_finite_weights(checkpoint["model"], path)
    model.load_state_dict(checkpoint["model"])
    return model


def fit(
    model: nn.Module,
    loader: DataLoader,
    config: TrainConfig,
    save_dir,
    device=None,
    evaluate_fn=None,
    resume: bool = False,
    progress: bool = True,
    log=print,
    overwrite: bool = False,
) -> dict:
    """Train for ``config.epochs`` epochs, evaluating every ``config.eval_every`` epochs.

    ``evaluate_fn(model) -> float`` gives a test AUC (or None to skip evaluation). Returns a
    summary: history, evaluations and which checkpoint was selected. ``save_dir`` is claimed
    for this run (``anomaly_lib.runs``): locked while training, and a run already there is
    refused unless ``resume`` continues it or ``overwrite`` deletes it. Under torchrun every
    process runs this (``evaluate_fn`` too); rank 0 claims the folder, logs and writes the files.
    The loop, the checkpoints and the divergence guard are the engine's (``anomaly_lib.engine``).
    """
    device = distributed.start(device or "cpu")  # under torchrun: join the group (before the claim), take a GPU
    resuming = check_resume(resume, Path(save_dir) / RUN_FILES[0])
    if config.selection not in SELECTIONS:
        raise ValueError(f"selection must be one of {SELECTIONS}, got {config.selection!r}")
    with claim_run_folder(save_dir, RUN_FILES, resuming, overwrite, log=log):
        run = SwsslRun(model, loader, config, save_dir, device, evaluate_fn, progress, log)
        if resuming:
            run.load()
        else:
            torch.manual_seed(config.seed)
        run.announce()
        train_loop(run, config.epochs, progress)
        selected = run.best_path if config.selection == "test" and run.best_path.is_file() else run.checkpoint_path
        if distributed.is_main():
            (Path(save_dir) / "history.json").write_text(json.dumps(run.history, indent=2))
        return {"history": run.history, "selection": config.selection, "checkpoint": str(selected)}


class SwsslRun(Run):
    """SWSSL's training state for the engine's loop: one unit is one epoch of `swssl_step`s."""

    unit, unit_key, desc, what = "ep", "epoch", "SWSSL", "SWSSL training checkpoint"
    network_fields = NETWORK_FIELDS

    def __init__(self, model, loader, config: TrainConfig, save_dir, device, evaluate_fn, progress, log):
        log = distributed.log_of_this_process(log)  # rank 0 speaks for all
        super().__init__(config, Path(save_dir) / "last.pt", log)
        self.model, self.loader, self.device, self.evaluate_fn = model.to(device), loader, device, evaluate_fn
        self.progress = progress and distributed.is_main()
        self.best_path, self.best_auc = Path(save_dir) / "best.pt", -math.inf
        self.optimizer = make_optimizer(model, config)
        amp_dtype, self.precision_in_words = choose_amp_dtype(device, config.amp, config.amp_dtype)
        self.precision = MixedPrecision(device, amp_dtype, init_scale=TWIN_LOSS_INIT_SCALE)

    def announce(self) -> None:
        """Say which checkpoint is kept and in which precision; wrap the model for DDP."""
        if self.config.selection == "test":
            warnings.warn(TEST_SELECTION_WARNING, stacklevel=3)
            self.log("WARNING: " + TEST_SELECTION_WARNING)
        else:
            self.log("checkpoint selection: the last epoch (the test set is not used to choose the model)")
        if self.config.amp or self.config.amp_dtype != "auto":
            self.log(f"precision: {self.precision_in_words}")
        self.train_model = parallel_model(self.model, self.device, self.log)

    def networks(self) -> dict:
        return {"model": self.model}

    def state_dict(self) -> dict:
        return {"optimizer": self.optimizer.state_dict(), "amp": self.precision.state_dict()}  # amp: float16 scale

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.precision.load_state_dict(state.get("amp"))
        self.best_auc = max((h["auc"] for h in state.get("history", []) if "auc" in h), default=-math.inf)

    def run_unit(self) -> dict:
        """One epoch: a `swssl_step` per batch; stops before a non-finite loss touches the weights."""
        epoch, loader = self.done + 1, self.loader
        self.model.train()
        if isinstance(loader.sampler, DistributedSampler):
            loader.sampler.set_epoch(epoch)  # a new shared order each epoch
            torch.manual_seed(self.config.seed + epoch * distributed.world_size() + distributed.rank())  # own draws
        losses = []
        with tqdm(total=len(loader.dataset), desc=f"epoch {epoch}/{self.config.epochs}", unit="img", leave=False,
                  disable=not self.progress) as bar:
            for step, batch in enumerate(loader):
                loss = train_step(self.train_model, batch, self.optimizer, self.config, self.device, self.precision)
                if not torch.isfinite(loss):
                    raise TrainingDiverged(
                        f"the twin loss became {loss.item()} at epoch {epoch}, step {step}; training stopped and "
                        f"the last good checkpoint is {self.last_good()}. Try a smaller --lr, check the images "
                        "(a constant patch has zero std), or a larger --batch_size.")
                if self.precision.diverged:
                    raise TrainingDiverged(f"{self.precision.divergence(f'epoch {epoch}, step {step}')}; "
                                           f"the last good checkpoint is {self.last_good()}")
                losses.append(loss.item())
                bar.set_postfix(twin_loss=f"{loss.item():.4g}")
                bar.update(len(batch[0]) * distributed.world_size())
        return {"loss": sum(losses) / max(len(losses), 1)}

    def logged(self, entry: dict) -> None:
        """Every eval_every epochs and at the end: the test AUC (if evaluate_fn), and best.pt with
        selection='test'."""
        epoch, config = self.done, self.config
        if self.evaluate_fn is None or (epoch % config.eval_every and epoch != config.epochs):
            return
        auc = self.evaluate_fn(self.model)
        if auc is None:
            return
        entry["auc"] = float(auc)
        self.log(f"epoch {epoch}: mean twin loss {entry['loss']:.4g}, test AUC {auc:.4f}")
        if config.selection == "test" and auc > self.best_auc:
            self.best_auc = auc
            with distributed.together():
                if distributed.is_main():
                    atomic_save(self.model.state_dict(), self.best_path)
            self.log(f"  best test AUC so far: kept {self.best_path} (selection on the test set)")
