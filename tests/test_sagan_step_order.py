"""The update order of one SAGAN iteration, read from `sagan_step` through a recording engine."""

import pytest
import torch

from sagan_lib.config import SaganConfig
from sagan_lib.step import sagan_step
from sagan_lib.step_recorder import RecordingEngine


def batches(size: int = 16):
    torch.manual_seed(0)
    return [torch.rand(2, 1, size, size) * 2 - 1 for _ in range(3)]  # x_A, x_B, x_B′


@pytest.mark.parametrize("join_calls", [False, True])
def test_critic_every_iteration_generator_on_its_turns(join_calls):
    engine = RecordingEngine(SaganConfig(), join_calls=join_calls)
    per_iteration = []
    for turn in (False, True, False, True):
        done, calls = len(engine.updates), engine.generator_calls
        losses = sagan_step(engine, *batches(), generator_turn=turn)
        per_iteration.append((engine.updates[done:], engine.generator_calls - calls))
        assert ("G/loss" in losses) == turn and "D/loss" in losses
    generator_calls = 1 if join_calls else 3  # x_A, x_B, x_B′ in one call, or one call each
    assert per_iteration == [(["critic"], 1), (["critic", "generator"], generator_calls)] * 2
    assert engine.critic_frozen_during_generator_update == [True, True]
    assert all(p.requires_grad for p in engine.D.parameters()), "the critic is unfrozen after the generator step"


@pytest.mark.parametrize("ablation, updates, images", [
    ({"lambda_adv": 0}, ["generator"], 4),  # no critic step; G sees x_B and x_B′ only
    ({"lambda_mse": 0}, ["critic", "generator"], 4),  # G never sees x_B′
])
def test_ablations_skip_what_they_switch_off(ablation, updates, images):
    engine = RecordingEngine(SaganConfig(**ablation))
    sagan_step(engine, *batches(), generator_turn=True)
    assert engine.updates == updates and engine.generated_images == images
