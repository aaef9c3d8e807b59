"""Training SAGAN: the engine around `sagan_step` (step.py), the authors' update order and losses
without their wasted work.

One iteration i (`sagan_step`):
  * critic step (every iteration): L_D = −D(x_B) + D(G(x_A)) + λ_gp · GP;
  * generator step (when (i + 1) % n_critic == 0):
    L_G = −λ_adv · D(G(x_A)) + λ_id · |x_B − G(x_B)| + λ_mse · (x_B − G(x_B′))².

Ablations (`SaganConfig`; the authors: every λ = 1, codes on): λ_adv = 0 skips
the critic step and never calls G on x_A; λ_mse = 0 never calls G on x_B′.
The generator still steps every n_critic iterations, so an ablation makes as
many generator updates as the full method at the same `num_iters`.

Differences from the authors' loop, none of which changes the maths:
  * On generator iterations G(x_A) is computed once, with its graph, and
    serves both steps (the critic step uses it detached). The authors call G
    on x_A twice, so G runs three times per generator iteration instead of four.
    Side effects: the train-mode keep-mask for x_A is drawn once, and the
    InstanceNorm running statistics (used only in eval mode) take three
    updates per generator iteration instead of four, or one update over all
    3B images when the calls are joined (below).
  * Critic-only iterations run G under `no_grad` (the authors keep a graph).
  * During the generator step the critic's weights need no gradients.

On generator iterations x_A, x_B and x_B′ can go through G as one batch of
3B images (exact: InstanceNorm is per sample) or as three calls. One call
saves per-operation overhead and wins on a GPU and for small models; on a CPU
at full width the 3B-sized activations outgrow the cache and three calls are
faster (benchmarks/sagan_train_step.py). `join_generator_calls` picks one.

Mixed precision (`--amp`, `--amp_dtype`; see anomaly_lib/amp.py): the networks run
under autocast; with float16 each network has its own gradient scaler. The
gradient penalty's inner backward is scaled too (see `gradient_penalty`), so an
overflow there gives an infinite penalty: the scaler skips that critic step and
halves its scale, and the divergence guard lets it pass. Any other non-finite
loss, or 20 skipped steps in a row, stops training (`TrainingDiverged`).

Several processes (`torchrun --nproc_per_node N -m sagan_lib --mode train …`;
see anomaly_lib/distributed.py): every process makes the whole batch of B
images, with the same random sources, boxes, keep-masks and interpolation
weights as one process would, and keeps its B/N rows. Both networks are
wrapped in DistributedDataParallel (DDP), which averages the gradients of the
per-share mean losses, i.e. gives the whole batch's gradients. The gradient
penalty's inner `torch.autograd.grad(…, inputs=x̂, create_graph=True)` stops at
x̂ and never reaches the parameters' gradient accumulators where DDP's hooks sit,
so only the outer backward is averaged: the same gradients as one process
(checked in tests/test_distributed.py; DDP's `static_graph=True` must not be
used here). InstanceNorm is per image; its running statistics are averaged
over the processes after every iteration, which is their whole-batch update.
Rank 0 logs, evaluates and writes checkpoints; the others wait for it.
"""

import math
import re
import warnings
from pathlib import Path

import torch
from torch.utils.data import Dataset

from anomaly_lib import distributed
from anomaly_lib.amp import MixedPrecision, choose_amp_dtype
from anomaly_lib.checkpoints import CheckpointError, atomic_save
from anomaly_lib.device import pick_device
from anomaly_lib.engine import BatchStream, TrainingDiverged, train_loop
from anomaly_lib.pixel_method import PixelRun
from anomaly_lib.runs import claim_run_folder

from .config import SaganConfig
from .critic import Discriminator
from .data import to_model_range
from .generator import Generator, keep_mask
from .predict import SPEC, WindowedGenerator
from .scoring import reconstruct, score_images, score_test_set
from .step import sagan_step
from .synthetic_anomaly import paste_anomalies, pick_sources
from .windows import from_windows, to_windows

# The files a run writes to model_save_dir, its resume checkpoint first (see anomaly_lib.runs).
RUN_FILES = ("last.ckpt", "best-G.ckpt", "[0-9]*-G.ckpt", "calibration.json")
# Settings that change the networks' shapes: a checkpoint only resumes with the same values.
NETWORK_FIELDS = ("image_size", "num_patch", "g_conv_dim", "d_conv_dim", "g_repeat_num", "d_repeat_num")

TEST_SELECTION_WARNING = (
    "select_on='test' picks the checkpoint with the best TEST AUC/AP, as the authors' code does. "
    "This leaks test labels into model selection and overstates the reported numbers; "
    "use it only to reproduce the paper."
)


# On a CPU, one generator call on 3B images pays only while its stem
# activation (3B images × g_conv_dim channels at full resolution, float32)
# stays this small: about half the 32 MB L3 cache of the 2-core test machine.
JOINT_CALL_LIMIT_BYTES = 16 * 2 ** 20

# Losses that come from the gradient penalty's scaled inner backward: inf/NaN here in a
# step the scaler skipped means its factor was too large, not that training diverged.
SCALE_DEPENDENT_LOSSES = ("D/loss_gp", "D/loss")


def join_generator_calls(config: SaganConfig, device: torch.device) -> bool:
    """One generator call on [x_A; x_B; x_B′] (True) or three calls (False)."""
    if device.type != "cpu":
        return True
    stem_bytes = 3 * config.batch_size * config.g_conv_dim * config.image_size ** 2 * 4
    return stem_bytes <= JOINT_CALL_LIMIT_BYTES


class SaganTrainer(PixelRun):
    """Owns G, D, their optimisers and the data stream; `train()` runs the engine's loop
    (`anomaly_lib.engine.train_loop`) over `train_step`. Its scoring network (`self.model`) is G on
    the window grid, which scores the held-out normals for calibration.json after each save."""

    unit, unit_key, desc, what = "it", "iteration", "SAGAN", "SAGAN training checkpoint"
    network_fields = NETWORK_FIELDS

    def __init__(self, config: SaganConfig, train_set: Dataset, test_set: Dataset = None, log=print):
        self.device = distributed.start(pick_device(config.device))  # under torchrun: this process's GPU
        self.local_batch = distributed.local_batch_size(config.batch_size)  # B/N images per process
        log = distributed.log_of_this_process(log)  # rank 0 speaks for all
        torch.manual_seed(config.seed)
        self.G = Generator(config.g_conv_dim, 0, config.g_repeat_num, config.num_memory, config.image_size,
                           config.use_position_codes)
        self.D = Discriminator(config.image_size, config.d_conv_dim, 0, config.d_repeat_num)
        self.G.to(self.device)
        self.D.to(self.device)
        super().__init__(SPEC, config, WindowedGenerator(self.G, config.num_patch), config.model_save_dir, log)
        self.train_set, self.test_set = train_set, test_set
        heldout = getattr(train_set, "heldout_normals", ())
        if len(heldout):  # (V, H, W) uint8 → (V, 1, H, W) in [-1, 1]
            self.heldout, self.heldout_paths = to_model_range(heldout).unsqueeze(1), list(train_set.heldout_paths)
        amp_dtype, precision = choose_amp_dtype(self.device, config.amp, config.amp_dtype)
        self.d_amp, self.g_amp = MixedPrecision(self.device, amp_dtype), MixedPrecision(self.device, amp_dtype)
        if config.amp or config.amp_dtype != "auto":
            log(f"precision: {precision}")
        if config.channels_last and self.device.type == "cuda":
            self.G.to(memory_format=torch.channels_last)
            self.D.to(memory_format=torch.channels_last)
        self.g_optimizer = torch.optim.Adam(self.G.parameters(), config.g_lr, (config.beta1, config.beta2))
        self.d_optimizer = torch.optim.Adam(self.D.parameters(), config.d_lr, (config.beta1, config.beta2))
        # One process: the networks themselves. Several: DDP wrappers that average gradients; G's
        # running statistics are averaged after each iteration instead of broadcast from rank 0.
        G_train = distributed.data_parallel(self.G, self.device, sync_buffers=False)
        # λ_adv = 0 never calls the critic: it stays unwrapped, so DDP never waits for its gradients.
        self.D_train = distributed.data_parallel(self.D, self.device) if config.lambda_adv != 0 else self.D
        self.G_forward = torch.compile(G_train, dynamic=False) if config.compile else G_train  # B and 3B: two graphs
        self.join_calls = join_generator_calls(config, self.device)
        self.batches = BatchStream(len(train_set), config.batch_size, config.seed)
        self.skipped = {}  # network → whether its float16 scaler skipped the last step
        self.best = {"iteration": None, "auc": -1.0, "ap": -1.0}
        self.snapshots = []  # the {iteration}-G.ckpt names this run wrote and keeps, oldest first
        if config.select_on == "test":
            if test_set is None:
                raise ValueError("select_on='test' needs the test set")
            warnings.warn(TEST_SELECTION_WARNING, stacklevel=2)
            log("WARNING: " + TEST_SELECTION_WARNING)
        if config.select_on == "synthetic-val" and not len(getattr(train_set, "heldout_normals", ())):
            raise ValueError("select_on='synthetic-val' needs held-out normals (MedADTrainSet(holdout=…))")
        if config.lambda_adv == 0:
            log("lambda_adv = 0: no critic. D is neither trained nor called, and the unlabeled images go unused")

    # ------------------------------------------------------------------ one iteration
    def _generate(self, images: torch.Tensor) -> torch.Tensor:
        """Full images (b, 1, H, W) → reconstructions through the window grid (G in train mode)."""
        windows = to_windows(images, self.config.num_patch)  # (b·M, 1, ws, ws)
        # The keep-mask is drawn for the whole batch, as one process would draw it, and this
        # process keeps its rows; `groups` counts the sub-batches joined into this call.
        groups = len(images) // self.local_batch
        keep = distributed.my_rows(keep_mask((len(windows) * distributed.world_size(), *windows.shape[1:])), groups)
        if self.config.channels_last and self.device.type == "cuda":
            windows = windows.contiguous(memory_format=torch.channels_last)
        with self.g_amp.autocast():
            out = self.G_forward(windows, images.shape[0], keep=keep)
        return from_windows(out.float(), self.config.num_patch)  # (b, 1, H, W)

    def generate(self, *batches) -> list:
        """G on the batches given (None stays None) in one call: `sagan_step`'s view of G."""
        given = [x for x in batches if x is not None]
        if not given:
            return [None] * len(batches)
        joined = torch.cat(given) if len(given) > 1 else given[0]  # (kB, 1, H, W)
        outputs = iter(self._generate(joined).split(given[0].shape[0]))  # k × (B, 1, H, W)
        return [next(outputs) if x is not None else None for x in batches]

    def interpolation_weights(self) -> torch.Tensor:
        """One u ~ U(0, 1) per image of the whole batch, drawn as one process would; this process's rows."""
        return distributed.my_rows(torch.rand(self.config.batch_size, 1, 1, 1)).to(self.device)

    def update_critic(self, loss: torch.Tensor) -> None:
        self.skipped["D"] = self.d_amp.step(loss, self.d_optimizer)

    def update_generator(self, loss: torch.Tensor) -> None:
        self.skipped["G"] = self.g_amp.step(loss, self.g_optimizer)

    @property
    def iteration(self) -> int:
        """Iterations done (the engine's `done`)."""
        return self.done

    def run_unit(self) -> dict:
        """One iteration (`sagan_step`), then the whole batch's statistics, the divergence guard
        and the learning-rate schedule; the engine's loop counts it."""
        indices = self.batches.next()  # the whole batch: the same on every process
        unlabeled, normal, anomaly, _ = map(distributed.my_rows, self.train_set.batch(indices, self.device))
        generator_turn = (self.iteration + 1) % self.config.n_critic == 0
        self.skipped = {}  # network → whether its float16 gradient scaler skipped this step
        losses = sagan_step(self, unlabeled, normal, anomaly, generator_turn)
        distributed.average_buffers(self.G)  # the whole batch's InstanceNorm running statistics
        values = distributed.mean_over_processes(losses)  # the whole batch's mean losses
        self._check_finite(values, self.skipped)
        if self.d_amp.scaler.is_enabled():  # float16: count the steps the scalers skipped
            values.update({f"{name}/skipped": float(value) for name, value in self.skipped.items()})
        self._decay_learning_rates(self.iteration + 1)
        return values

    def train_step(self) -> dict:
        """One iteration outside the engine's loop (notebooks, benchmarks): `run_unit`, counted."""
        values = self.run_unit()
        self.done += 1
        return values

    def _check_finite(self, values: dict, skipped: dict) -> None:
        """Stop on a non-finite loss, unless it is a gradient-penalty overflow the float16 scaler skipped."""
        penalty_overflow = skipped.get("D", False) and not math.isfinite(values.get("D/loss_gp", 0.0))
        where = f"iteration {self.iteration + 1}"
        self.check_finite(values, where, allowed=SCALE_DEPENDENT_LOSSES if penalty_overflow else ())
        for name, amp in (("D", self.d_amp), ("G", self.g_amp)):
            if amp.diverged:
                raise TrainingDiverged(f"{amp.divergence(where, network=name)}; the last good checkpoint is "
                                       f"{self.last_good()}")

    def _decay_learning_rates(self, i: int) -> None:
        """The schedule after iteration `i` (counted from 1)."""
        cfg = self.config
        if i % cfg.lr_update_step or i <= cfg.num_iters - cfg.num_iters_decay:
            return
        for optimizer, initial in ((self.g_optimizer, cfg.g_lr), (self.d_optimizer, cfg.d_lr)):
            for group in optimizer.param_groups:
                if cfg.lr_decay == "reference":  # the authors: a step of lr / num_iters_decay
                    group["lr"] -= initial / cfg.num_iters_decay
                else:  # linear to zero at num_iters
                    group["lr"] = initial * max(cfg.num_iters - i, 0) / cfg.num_iters_decay

    # ------------------------------------------------------------------ the loop
    def train(self, num_iters: int = None, progress: bool = True, overwrite: bool = False) -> list:
        """Train until `num_iters` (default: config.num_iters); returns the loss history.

        `model_save_dir` is claimed for this run first (`anomaly_lib.runs`): it is locked while
        training, and a run already there is refused unless this trainer resumed from it
        (`load()`), wrote it, or `overwrite=True` deletes it.
        """
        cfg = self.config
        continuing = self.good_checkpoint is not None and self.good_checkpoint.resolve() == self.checkpoint_path.resolve()
        with claim_run_folder(cfg.model_save_dir, RUN_FILES, continuing, overwrite, [cfg.sample_dir], self.log):
            return train_loop(self, cfg.num_iters if num_iters is None else num_iters, progress,
                              log_every=cfg.log_step, save_every=cfg.model_save_step)

    def after_unit(self) -> None:
        if self.iteration % self.config.sample_step == 0 and distributed.is_main():
            self.save_samples()

    def logged(self, entry: dict) -> None:
        self._select_model()

    def _select_model(self) -> None:
        cfg = self.config
        if cfg.select_on == "last":
            return
        with distributed.together():  # rank 0 evaluates and keeps best-G.ckpt; the others wait for it
            if distributed.is_main():
                self._keep_if_best()

    def _keep_if_best(self) -> None:
        cfg = self.config
        if cfg.select_on == "test":
            report = score_test_set(self.G, self.test_set, cfg.num_patch, device=self.device, progress=False).report
        else:
            report = synthetic_validation(self.G, self.train_set.heldout_normals, cfg, self.device)
        improved = report.auc > self.best["auc"] and (cfg.select_on != "test" or report.ap > self.best["ap"])
        self.log(f"[{cfg.select_on}] iteration {self.iteration}: AUC {report.auc:.4f} AP {report.ap:.4f}"
                 + ("  (best so far)" if improved else ""))
        if improved:
            self.best = {"iteration": self.iteration, "auc": report.auc, "ap": report.ap}
            atomic_save(self.G.state_dict(), Path(cfg.model_save_dir) / "best-G.ckpt")
            self.record_heldout("best-G.ckpt")

    # ------------------------------------------------------------------ files
    def networks(self) -> dict:
        return {"G": self.G, "D": self.D}

    def state_dict(self) -> dict:
        """What last.ckpt holds besides G, D, the iteration, config, RNG and history (the engine's)."""
        snapshot = f"{self.iteration}-G.ckpt"  # this save's snapshot joins the list, then the oldest go
        self.snapshots = [name for name in self.snapshots if name != snapshot] + [snapshot]
        keep = self.config.keep_last
        self._pruned = self.snapshots[:-keep] if keep else []
        self.snapshots = self.snapshots[len(self._pruned):]
        return {"g_optimizer": self.g_optimizer.state_dict(), "d_optimizer": self.d_optimizer.state_dict(),
                "batches": self.batches.state_dict(), "best": self.best, "snapshots": self.snapshots,
                "amp": {"D": self.d_amp.state_dict(), "G": self.g_amp.state_dict()}}  # float16 loss scales

    def saved(self, path: Path) -> None:
        """After last.ckpt: the published-format `{iteration}-G.ckpt`, the held-out scores, and the
        pruning of this run's older snapshots to the newest `keep_last` (0 keeps all). The names
        are recorded in `last.ckpt`, so a resumed run goes on pruning its own."""
        with distributed.together():
            if distributed.is_main():
                folder = Path(self.config.model_save_dir)
                atomic_save(self.G.state_dict(), folder / f"{self.iteration}-G.ckpt")
                self.record_heldout(path.name)
                for name in self._pruned:  # after last.ckpt stopped listing them
                    (folder / name).unlink(missing_ok=True)

    def load_state_dict(self, state: dict) -> None:
        """The rest of a resume (`Run.load` checks the file and loads G and D). Refuses a checkpoint
        made on a different number of images, or whose snapshot list names files it did not write."""
        needed = {"g_optimizer", "d_optimizer", "batches", "history", "best"}
        if not needed <= set(state):
            raise CheckpointError(f"{self.checkpoint_path} lacks {', '.join(sorted(needed - set(state)))}")
        trained_on = len(state["batches"]["order"])
        if trained_on != len(self.train_set):
            raise CheckpointError(f"cannot resume from {self.checkpoint_path}: it was trained on {trained_on} image "
                                  f"pairs, the training data now has {len(self.train_set)}")
        snapshots = [str(name) for name in state.get("snapshots", [])]  # older checkpoints kept no list
        strange = [name for name in snapshots if not re.fullmatch(r"[0-9]+-G\.ckpt", name)]
        if strange:
            raise CheckpointError(f"{self.checkpoint_path} lists snapshots that are not this run's "
                                  f"{{N}}-G.ckpt files: {strange[:3]}; refusing to prune them")
        self.g_optimizer.load_state_dict(state["g_optimizer"])
        self.d_optimizer.load_state_dict(state["d_optimizer"])
        self.batches.load_state_dict(state["batches"])
        self.best, self.snapshots, self._heldout_scored = dict(state["best"]), snapshots, None
        scalers = state.get("amp", {})  # float16 loss scales (absent from older checkpoints)
        self.d_amp.load_state_dict(scalers.get("D")), self.g_amp.load_state_dict(scalers.get("G"))

    def load(self, path=None) -> dict:
        """Resume from `path` (default: `model_save_dir/last.ckpt`); see `Run.load`."""
        return super().load(path, map_location=self.device)

    def save_samples(self) -> Path:
        """A PNG grid: unlabeled inputs (top) and their reconstructions (bottom)."""
        from torchvision.utils import save_image

        # A private generator, so that writing samples (on rank 0 only) leaves the training draws alone.
        indices, generator = torch.arange(min(8, len(self.train_set))), torch.Generator().manual_seed(0)
        unlabeled = self.train_set.batch(indices, self.device, generator)[0]
        reconstruction, _ = reconstruct(self.G, unlabeled, self.config.num_patch)  # eval mode, no gradients
        path = Path(self.config.sample_dir) / f"{self.iteration}-images.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_image(torch.cat([unlabeled, reconstruction]) * 0.5 + 0.5, path, nrow=len(unlabeled))
        return path


def synthetic_validation(generator, heldout_normals: torch.Tensor, config: SaganConfig, device, seed: int = 1234):
    """AUC of held-out normals against the same images with synthetic anomalies; no test labels used."""
    from anomaly_lib.metrics import roc_report

    rng = torch.Generator().manual_seed(seed)  # the same anomalies at every evaluation
    normals = to_model_range(heldout_normals).unsqueeze(1).to(device)  # (V, 1, H, W)
    sources = normals[pick_sources(torch.arange(len(normals)), len(normals), rng)]
    anomalies, _ = paste_anomalies(normals, sources, config.core_percent, rng)
    scores = score_images(generator, torch.cat([normals, anomalies]), config.num_patch)
    labels = [0] * len(normals) + [1] * len(anomalies)
    return roc_report(labels, scores.cpu().numpy())
