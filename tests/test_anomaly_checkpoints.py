import pickle
import random

import numpy as np
import pytest
import torch

from anomaly_lib.checkpoints import (
    CheckpointError,
    atomic_save,
    capture_rng_state,
    config_differences,
    load_checkpoint_file,
    restore_rng_state,
    state_dict_mismatch,
)


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


def make_bad_files(folder):
    """Files that are not checkpoints, by what they are."""
    good = folder / "good.pt"
    torch.save({"w": torch.ones(3)}, good)
    files = {
        "random bytes": np.random.default_rng(0).bytes(4096),
        "text": b"epoch 12: loss 0.31\n",
        "truncated download": good.read_bytes()[: good.stat().st_size // 2],
        "numpy array": None,
    }
    paths = {}
    for name, content in files.items():
        path = folder / (name.replace(" ", "_") + ".pt")
        if content is None:
            np.save(path.with_suffix(".npy"), np.ones(3))
            path = path.with_suffix(".npy")
        else:
            path.write_bytes(content)
        paths[name] = path
    return paths


def test_a_file_that_is_not_a_checkpoint_gets_the_kits_message(tmp_path):
    for name, path in make_bad_files(tmp_path).items():
        with pytest.raises(CheckpointError) as error:
            load_checkpoint_file(path, what="SWSSL checkpoint")
        message = str(error.value)
        assert message.startswith(f"{path} is not a PyTorch SWSSL checkpoint"), name
        assert "weights_only" not in message, name  # never advise loading untrusted code
    empty = tmp_path / "empty.pt"
    empty.touch()
    with pytest.raises(CheckpointError, match="is empty"):
        load_checkpoint_file(empty)
    with pytest.raises(CheckpointError, match="is a folder"):
        load_checkpoint_file(tmp_path)
    with pytest.raises(FileNotFoundError, match="checkpoint not found: .*missing.pt"):
        load_checkpoint_file(tmp_path / "missing.pt")


def test_a_pickled_object_is_never_unpickled(tmp_path):
    path = tmp_path / "whole_model.pt"
    torch.save(torch.nn.Linear(2, 2), path)  # the whole module, with its class
    with pytest.raises(CheckpointError, match="pickled Python object \\(torch.nn.modules.linear.Linear\\)") as error:
        load_checkpoint_file(path)
    assert "state_dict()" in str(error.value) and "weights_only" not in str(error.value)


def test_state_dict_mismatch_and_config_differences_name_what_differs():
    expected = {"a": torch.zeros(2, 3), "b": torch.zeros(4), "c": torch.zeros(1)}
    found = {"a": torch.zeros(2, 5), "b": torch.zeros(4), "extra": torch.zeros(1)}
    lines = state_dict_mismatch(expected, found)
    assert lines == ["  missing keys: c", "  unexpected keys: extra", "  wrongly shaped keys: a: file (2, 5) vs model (2, 3)"]
    assert state_dict_mismatch(expected, dict(expected)) == []
    saved, now = {"size": [64, 64], "width": 4, "lr": 0.1}, {"size": (64, 64), "width": 8, "lr": 0.1}
    assert config_differences(saved, now, ["size", "width", "lr"]) == ["width: checkpoint 4, now 8"]
