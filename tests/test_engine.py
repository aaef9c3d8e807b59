"""The engine's loop and run state (`anomaly_lib.engine`), on a run small enough to read: a linear
model fitted by SGD. Every method's trainer runs on these two pieces."""

import math

import pytest
import torch

from anomaly_lib.checkpoints import CheckpointError
from anomaly_lib.engine import Run, TrainingDiverged, train_loop


class LineRun(Run):
    """y = w·x fitted to y = 2x; `poison_at` makes the loss (or the weights) non-finite at that unit."""

    desc = "line"

    def __init__(self, folder, poison_at=None, poison="loss", log=print):
        super().__init__({"lr": 0.1}, folder / "last.ckpt", log)
        self.model = torch.nn.Linear(1, 1, bias=False)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.1)
        self.poison_at, self.poison = poison_at, poison

    def config_dict(self):
        return dict(self.config)

    def networks(self):
        return {"model": self.model}

    def state_dict(self):
        return {"optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state):
        self.optimizer.load_state_dict(state["optimizer"])

    def run_unit(self):
        x = torch.randn(8, 1)
        loss = ((self.model(x) - 2 * x) ** 2).mean()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        values = {"loss": loss.item()}
        if self.done + 1 == self.poison_at:
            if self.poison == "loss":
                values["loss"] = math.nan
            else:
                with torch.no_grad():
                    self.model.weight.fill_(math.inf)
        self.check_finite(values, f"iteration {self.done + 1}")
        return values


def test_the_loop_logs_and_saves_on_its_cadence_and_at_the_end(tmp_path):
    run = LineRun(tmp_path)
    saves = []
    run.saved = saves.append
    history = train_loop(run, 7, progress=False, log_every=3, save_every=5)
    assert [entry["iteration"] for entry in history] == [3, 6, 7]
    assert saves == [tmp_path / "last.ckpt"] * 2  # units 5 and 7
    assert history[-1]["loss"] < history[0]["loss"]
    assert torch.load(tmp_path / "last.ckpt", weights_only=True)["iteration"] == 7


def test_resume_continues_bit_for_bit_and_refuses_to_go_back(tmp_path):
    torch.manual_seed(0)
    straight = LineRun(tmp_path / "a")
    train_loop(straight, 6, progress=False)
    torch.manual_seed(0)
    first = LineRun(tmp_path / "b")
    train_loop(first, 3, progress=False)
    torch.manual_seed(123)  # the checkpoint's random state wins
    resumed = LineRun(tmp_path / "b")
    resumed.load()
    train_loop(resumed, 6, progress=False)
    assert torch.equal(resumed.model.weight, straight.model.weight)
    assert [e["loss"] for e in resumed.history] == [e["loss"] for e in straight.history]
    with pytest.raises(ValueError, match="is at iteration 6, past the end asked for \\(4\\)"):
        train_loop(resumed, 4, progress=False)


def test_a_non_finite_loss_names_the_last_good_checkpoint_or_none(tmp_path):
    with pytest.raises(TrainingDiverged, match="non-finite loss at iteration 2; the last good checkpoint is none"):
        train_loop(LineRun(tmp_path / "a", poison_at=2), 5, progress=False, save_every=3)
    with pytest.raises(TrainingDiverged, match=f"iteration 5; the last good checkpoint is {tmp_path / 'b'}"):
        train_loop(LineRun(tmp_path / "b", poison_at=5), 6, progress=False, save_every=3)


def test_weights_that_blew_up_are_never_saved(tmp_path):
    run = LineRun(tmp_path, poison_at=6, poison="weights")  # its loss is still finite: only the save sees it
    with pytest.raises(TrainingDiverged, match=f"weights of model became non-finite .* {tmp_path / 'last.ckpt'}"):
        train_loop(run, 6, progress=False, save_every=3)
    saved = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert saved["iteration"] == 3 and torch.isfinite(saved["model"]["weight"]).all()


def test_load_refuses_another_file_and_broken_weights(tmp_path):
    torch.save({"weight": torch.ones(1, 1)}, tmp_path / "last.ckpt")
    with pytest.raises(CheckpointError, match="is not a training checkpoint .* not just a network's weights"):
        LineRun(tmp_path).load()
    run = LineRun(tmp_path / "b")
    train_loop(run, 2, progress=False)
    state = torch.load(tmp_path / "b" / "last.ckpt", weights_only=True)
    state["model"]["weight"].fill_(math.nan)
    torch.save(state, tmp_path / "b" / "last.ckpt")
    with pytest.raises(CheckpointError, match="model weights hold non-finite values"):
        LineRun(tmp_path / "b").load()
