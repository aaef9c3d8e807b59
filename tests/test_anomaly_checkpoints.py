import pickle
import random

import numpy as np
import pytest
import torch

from anomaly_lib.checkpoints import atomic_save, capture_rng_state, restore_rng_state


def test_atomic_save_writes_loadable_file_and_no_temp_files(tmp_path):
    path = tmp_path / "models" / "last.ckpt"
    atomic_save({"weights": torch.arange(3)}, path)
    atomic_save({"weights": torch.arange(5)}, path)  # overwrite
    assert [item.name for item in path.parent.iterdir()] == ["last.ckpt"]
    loaded = torch.load(path, weights_only=True)
    assert torch.equal(loaded["weights"], torch.arange(5))


def test_failed_save_keeps_old_file_and_cleans_up(tmp_path):
    path = tmp_path / "last.ckpt"
    atomic_save({"step": 1}, path)
    with pytest.raises((pickle.PicklingError, AttributeError)):  # a lambda cannot be pickled
        atomic_save({"step": 2, "bad": lambda: None}, path)
    assert [item.name for item in tmp_path.iterdir()] == ["last.ckpt"]
    assert torch.load(path, weights_only=True) == {"step": 1}


def draw_from_every_generator():
    return (
        [random.random() for _ in range(3)],
        np.random.rand(3).tolist(),
        np.random.normal(size=3).tolist(),  # numpy caches one gaussian: part of its state
        torch.rand(3).tolist(),
    )


def test_rng_state_round_trip_through_weights_only_checkpoint(tmp_path):
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    np.random.normal()  # leave a cached gaussian behind
    atomic_save({"rng": capture_rng_state()}, tmp_path / "rng.ckpt")
    expected = draw_from_every_generator()

    draw_from_every_generator()  # move every generator on
    state = torch.load(tmp_path / "rng.ckpt", weights_only=True)["rng"]
    restore_rng_state(state)
    assert draw_from_every_generator() == expected
