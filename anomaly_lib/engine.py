"""The training engine every method runs on, and what every command line shares, written once.

    Run          a method's training state: it fills in `run_unit` (its step on one batch, or one
                 epoch of them), `networks`, and the extra state a resume needs; `Run.save` and
                 `Run.load` do the rest (atomic checkpoints with every random state and the history)
    train_loop   from `run.done` to the end: progress, history entries, checkpoints on a cadence
    BatchStream  a resumable shuffled order of batch indices

`sagan_lib.train.SaganTrainer` (one unit: an iteration), `swssl_lib.train.SwsslRun` (one unit: an
epoch) and `autoencoder_lib.method.AutoencoderRun` are the three `Run`s.

The methods used to disagree; each of these is now one rule, the better of the two:

* a non-finite loss or gradient raises `TrainingDiverged` (SAGAN's name; SWSSL raised a bare
  ``FloatingPointError``). It subclasses ``FloatingPointError``, so code that caught that still does.
  The message names the last checkpoint that is really good, or says there is none: weights that
  are no longer finite are never saved, and a checkpoint with such weights is never resumed;
* ``--resume`` without a checkpoint is an error naming the missing file (SAGAN's rule; SWSSL
  quietly started afresh, which hides a mistyped folder: training starts from zero while you
  believe it resumed); a resume already past the end asked for (``--num_iters``, ``--epochs``)
  is an error too, not a silent exit;
* ``--follow_symlinks``: a dataset whose files are links leading out of its folder is refused
  unless this flag is given, in every command line (``anomaly_lib.files``);
* progress bars: ``--progress/--no-progress`` (on by default) in every command line, with
  ``--quiet`` kept as the short form of ``--no-progress`` (SAGAN had only ``--quiet``, SWSSL only
  ``--progress/--no-progress``);
* the shared flags come from one function (`add_run_flags`), and a config dataclass becomes flags
  one way (`add_config_flags`).
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import asdict, fields
from pathlib import Path

import torch
from tqdm.auto import tqdm

from . import distributed
from .checkpoints import (
    CheckpointError,
    atomic_save,
    capture_rng_state,
    load_checkpoint_file,
    non_finite_tensors,
    refuse_non_finite_weights,
    restore_rng_state,
    settings_changed_on_resume,
    state_dict_mismatch,
)


class TrainingDiverged(FloatingPointError):
    """A loss or the gradients became NaN or infinite; the last good checkpoint is kept."""


def check_resume(resume: bool, checkpoint) -> bool:
    """``--resume`` needs ``checkpoint`` to exist (FileNotFoundError naming it); returns ``resume``."""
    if resume and not Path(checkpoint).is_file():
        raise FileNotFoundError(f"--resume: no checkpoint to resume from at {checkpoint}")
    return resume


def add_progress_flags(parser) -> None:
    """``--progress/--no-progress`` (default on) and ``--quiet`` (= ``--no-progress``), into ``args.progress``."""
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                        help="progress bars (default: on)")
    parser.add_argument("--quiet", dest="progress", action="store_false", help="no progress bars (= --no-progress)")


def add_run_flags(parser, folder: str, checkpoint_file: str, checkpoint_help: str) -> None:
    """The flags every method's command line shares: ``--resume``, ``--overwrite``, ``--allow_overlap``,
    ``--checkpoint``, ``--report_json``, progress, ``--follow_symlinks``, predict's flags and ``--debug``.

    ``folder``: the flag (in capitals) naming the run folder; ``checkpoint_file``: its resume checkpoint.
    """
    from .cli import add_debug_flag
    from .predictions import add_predict_flags
    from .runs import PREVIOUS_RUN

    parser.add_argument("--checkpoint", help=checkpoint_help)
    parser.add_argument("--resume", action="store_true", help=f"continue from {folder}/{checkpoint_file}")
    parser.add_argument("--overwrite", action="store_true",
                        help=f"{folder} holds another run: replace it (its files wait in {folder}/{PREVIOUS_RUN}/ "
                             "until the new run completes, and come back if it fails)")
    parser.add_argument("--allow_overlap", action="store_true",
                        help="run even if an image is listed in a training and a test split (a leak)")
    parser.add_argument("--report_json", help="also write the test report to this JSON file")
    add_progress_flags(parser)
    add_follow_symlinks_flag(parser)
    add_predict_flags(parser)
    add_debug_flag(parser)


def add_config_flags(parser, config: type, help: dict = None) -> None:
    """One ``--flag`` per field of the dataclass ``config`` (booleans as ``--x/--no-x``). A flag left
    out is absent from the parsed args (SUPPRESS), so every flag given, 0 and False included, reaches
    the config and the others keep their defaults."""
    types = {int: int, float: float, bool: bool, "int": int, "float": float, "bool": bool}
    for field in fields(config):
        kind = types.get(field.type, str)
        text = f"{(help or {}).get(field.name, '')} (default: {field.default})".lstrip()
        if kind is bool:
            parser.add_argument(f"--{field.name}", action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                                help=text)
        else:
            parser.add_argument(f"--{field.name}", type=kind, default=argparse.SUPPRESS, help=text)


def add_follow_symlinks_flag(parser) -> None:
    """``--follow_symlinks``: read dataset files that are links leading out of the dataset's folder."""
    parser.add_argument("--follow_symlinks", "--follow-symlinks", dest="follow_symlinks", action="store_true",
                        help="read dataset entries that are links leading out of the dataset folder "
                             "(refused by default: a path from data.json or a split folder stays inside it)")


# ---------------------------------------------------------------------------- the data order


class BatchStream:
    """Random index batches, reshuffled after every pass (last partial batch dropped); resumable."""

    def __init__(self, num_items: int, batch_size: int, seed: int = 0):
        if num_items < batch_size:
            raise ValueError(f"batch_size {batch_size} is larger than the {num_items} training images")
        self.num_items, self.batch_size = num_items, batch_size
        self.generator = torch.Generator().manual_seed(seed)
        self.order, self.position = torch.randperm(num_items, generator=self.generator), 0

    def next(self) -> torch.Tensor:
        if self.position + self.batch_size > self.num_items:
            self.order, self.position = torch.randperm(self.num_items, generator=self.generator), 0
        batch = self.order[self.position:self.position + self.batch_size]
        self.position += self.batch_size
        return batch

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state(), "order": self.order, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        self.order, self.position = state["order"], int(state["position"])


# ---------------------------------------------------------------------------- the loop


class Run:
    """What the engine's loop drives: a method's training state. A method subclasses it and fills in
    `run_unit` (one iteration or epoch: its step, then the whole batch's mean losses), `networks`
    (name → module, checked and saved), `state_dict`/`load_state_dict` (the rest of what resuming
    needs: optimisers, data order…) and the class attributes below."""

    unit = "it"  # what one unit of training is called: "it" (iteration) or "ep" (epoch)
    unit_key = "iteration"  # its name in the checkpoint and in the history
    desc = "training"  # the progress bar's title
    what = "training checkpoint"  # what its checkpoint is called in messages
    network_fields = ()  # settings that change the networks' shapes: a resume needs the same values

    def __init__(self, config, checkpoint_path, log=print):
        self.config, self.checkpoint_path, self.log = config, Path(checkpoint_path), log
        self.done = 0  # units of training done
        self.history = []  # one dict of mean losses per logged stretch
        self.good_checkpoint = None  # the last checkpoint known to hold finite weights

    def run_unit(self) -> dict:
        raise NotImplementedError

    def networks(self) -> dict:
        raise NotImplementedError

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass

    def after_unit(self) -> None:
        """Called after each unit, `done` already counting it (samples, evaluation by unit)."""

    def logged(self, entry: dict) -> None:
        """Called with each history entry (model selection, evaluation)."""

    def saved(self, path: Path) -> None:
        """Called after each checkpoint (held-out scores, pruning)."""

    def config_dict(self) -> dict:
        return self.config.to_dict() if hasattr(self.config, "to_dict") else asdict(self.config)

    def last_good(self) -> str:
        """The checkpoint to go back to, in words, for an error message."""
        if self.good_checkpoint is None:
            return "none: no checkpoint with finite weights was written or resumed by this run"
        return str(self.good_checkpoint)

    def check_finite(self, values: dict, where: str, allowed=()) -> None:
        """`TrainingDiverged` on a non-finite loss (other than those in `allowed`), naming the last good checkpoint."""
        bad = [name for name, value in values.items() if not math.isfinite(value) and name not in allowed]
        if bad:
            raise TrainingDiverged(f"non-finite {', '.join(bad)} at {where}; the last good checkpoint is "
                                   f"{self.last_good()}")

    # ------------------------------------------------------------------ files
    def save(self, path=None) -> Path:
        """Everything needed to resume, written atomically by rank 0 (the others wait). Weights that
        are no longer finite are never written: training stops instead, naming the last good file."""
        path = Path(path or self.checkpoint_path)
        broken = [name for name, network in self.networks().items() if non_finite_tensors(network.state_dict())]
        if broken:
            raise TrainingDiverged(f"the weights of {', '.join(broken)} became non-finite by {self.unit_key} "
                                   f"{self.done}; not saved. The last good checkpoint is {self.last_good()}")
        state = {**{name: network.state_dict() for name, network in self.networks().items()}, **self.state_dict(),
                 self.unit_key: self.done, "config": self.config_dict(), "rng": capture_rng_state(),
                 "history": self.history}
        with distributed.together():
            if distributed.is_main():
                atomic_save(state, path)
        self.good_checkpoint = path
        self.saved(path)
        return path

    def load(self, path=None, map_location="cpu") -> dict:
        """Resume from `path` (default: the checkpoint): refuses another kind of file, changed network
        settings or shapes, and non-finite weights, each naming the file; other changed settings are
        logged and used. Returns the checkpoint's dict (for a method's own extra keys)."""
        path = Path(path or self.checkpoint_path)
        state = load_checkpoint_file(path, map_location=map_location, what=self.what)
        needed = {*self.networks(), self.unit_key, "config", "rng"}
        if not isinstance(state, dict) or not needed <= set(state):
            holds = ", ".join(map(str, list(state)[:4])) if isinstance(state, dict) else type(state).__name__
            raise CheckpointError(f"{path} is not a {self.what} (it holds {holds}); resuming needs the checkpoint "
                                  f"a training run writes ({self.checkpoint_path.name}), not just a network's weights")
        changed = settings_changed_on_resume(path, state["config"], self.config_dict(), self.network_fields,
                                             built="its networks were")
        for name, network in self.networks().items():
            mismatch = state_dict_mismatch(network.state_dict(), state[name])
            if mismatch:
                raise CheckpointError(f"cannot resume from {path}: its {name} does not fit this config's\n"
                                      + "\n".join(mismatch))
            refuse_non_finite_weights(state[name], path, f"{name} weights")
        self.load_state_dict(state)
        if changed:
            self.log("resuming with changed settings: " + "; ".join(changed))
        for name, network in self.networks().items():
            network.load_state_dict(state[name])
        self.done, self.history = int(state[self.unit_key]), list(state.get("history", []))
        restore_rng_state(state["rng"])
        self.good_checkpoint = path
        self.log(f"resumed from {path} at {self.unit_key} {self.done}")
        return state


def train_loop(run: Run, end: int, progress: bool = True, log_every: int = 1, save_every: int = 1) -> list:
    """Run `run` from `run.done` to `end` units: one `run_unit` each, a history entry (the mean of
    each loss since the last one) every `log_every` units and at the end, a checkpoint every
    `save_every` units and at the end. Returns the history.

    A run already at `end` trains nothing and says so; one past it is an error (a resume with a
    smaller --num_iters or --epochs than the run has done).
    """
    if run.done > end:
        raise ValueError(f"{run.checkpoint_path} is at {run.unit_key} {run.done}, past the end asked for ({end}): "
                         f"give a number above {run.done} to train on")
    if run.done == end and run.good_checkpoint is not None:
        run.log(f"{run.checkpoint_path} is already at {run.unit_key} {end}: nothing to train")
    sums, counts = {}, {}
    bar = tqdm(total=end, initial=run.done, desc=run.desc, unit=run.unit,
               disable=not progress or not distributed.is_main())
    start = time.time()
    while run.done < end:
        values = run.run_unit()
        run.done += 1
        run.after_unit()
        for name, value in values.items():
            if math.isfinite(value):  # a float16 step its scaler skipped may carry an infinite loss
                sums[name], counts[name] = sums.get(name, 0.0) + value, counts.get(name, 0) + 1
        bar.update(1)
        bar.set_postfix({name.split("/")[-1]: f"{value:.3g}" for name, value in values.items()}, refresh=False)
        if run.done % log_every == 0 or run.done == end:
            entry = {run.unit_key: run.done, "seconds": time.time() - start,
                     **{name: total / counts[name] for name, total in sums.items()}}
            run.history.append(entry)
            sums, counts = {}, {}
            run.logged(entry)
        if run.done % save_every == 0 or run.done == end:
            run.save()
    bar.close()
    return run.history
