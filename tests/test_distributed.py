"""Several processes (gloo, on the CPU) give the same step as one process on the whole batch.

Each test starts 2 processes the way torchrun does (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
MASTER_PORT in the environment), lets each take its half of a batch, and compares the losses and
the new weights with one process that takes the whole batch.
"""

import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from anomaly_lib import distributed

WORLD = 2
SAGAN_COUNTS = {"train_normal": 12, "unlabeled_normal": 6, "unlabeled_abnormal": 8, "test_normal": 2,
                "test_abnormal": 2}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_torchrun(rank, world, port, worker, args):
    """What torchrun does for one process, then the worker."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    distributed.start("cpu")
    try:
        worker(*args)
    finally:
        distributed.stop()


def run_processes(worker, *args, world=WORLD):
    mp.spawn(_as_torchrun, args=(world, free_port(), worker, args), nprocs=world)


# ---------------------------------------------------------------------------------------- SAGAN
JOIN_CALLS = {"one G call": True, "three G calls": False}


def sagan_config(root, folder, **changes):
    from sagan_lib.config import SaganConfig

    settings = dict(dataset="folder", data_root=str(root), image_size=32, g_conv_dim=4, d_conv_dim=4,
                    g_repeat_num=1, d_repeat_num=5, batch_size=4, device="cpu", num_iters=4,
                    model_save_dir=str(folder / "models"), sample_dir=str(folder / "samples"))
    return SaganConfig(**{**settings, **changes})


def sagan_trainer(config, join_calls):
    from sagan_lib.data import MedADTrainSet
    from sagan_lib.train import SaganTrainer

    trainer = SaganTrainer(config, MedADTrainSet(config.data_root, config.image_size, progress=False),
                           log=lambda *_: None)
    trainer.join_calls = join_calls
    return trainer


def sagan_state(trainer, losses):
    """What the comparison needs: losses, weights and running statistics, Adam's moments, the RNG."""
    return {"losses": losses, "G": trainer.G.state_dict(), "D": trainer.D.state_dict(),
            "G_moments": adam_first_moments(trainer.G, trainer.g_optimizer),
            "D_moments": adam_first_moments(trainer.D, trainer.d_optimizer), "rng": torch.get_rng_state()}


def adam_first_moments(network, optimizer):
    """Adam's running mean of each parameter's gradients: the gradients a step was made from."""
    return {name: optimizer.state[p]["exp_avg"].clone() for name, p in network.named_parameters()}


def _sagan_worker(root, folder):
    """For each way of calling G: one step of each network (iteration 1: critic; iteration 2:
    critic and generator), a checkpoint, and two more iterations."""
    for name, join_calls in JOIN_CALLS.items():
        (folder / name).mkdir(exist_ok=True)
        trainer = sagan_trainer(sagan_config(root, folder / name), join_calls)
        losses = [trainer.train_step() for _ in range(2)]
        torch.save(sagan_state(trainer, losses), folder / name / f"step_rank{distributed.rank()}.pt")
        trainer.save()
        losses = [trainer.train_step() for _ in range(2)]
        torch.save(sagan_state(trainer, losses), folder / name / f"resumed_rank{distributed.rank()}.pt")


@pytest.fixture(scope="module")
def medad_root(tmp_path_factory):
    from anomaly_lib.phantoms import make_phantom_dataset

    return make_phantom_dataset(tmp_path_factory.mktemp("medad") / "data", "medad", 32, SAGAN_COUNTS, seed=4)


@pytest.fixture(scope="module")
def sagan_two_processes(medad_root, tmp_path_factory):
    """One launch of 2 processes, shared by the SAGAN tests: the folder of each join mode."""
    folder = tmp_path_factory.mktemp("sagan_ddp")
    run_processes(_sagan_worker, medad_root, folder)
    return {name: folder / name for name in JOIN_CALLS}


def load_ranks(folder, what):
    return [torch.load(folder / f"{what}_rank{r}.pt", weights_only=True) for r in range(WORLD)]


def assert_same_losses(expected, actual, tolerance=1e-5):
    for step, (one, many) in enumerate(zip(expected, actual), start=1):
        assert one.keys() == many.keys()
        for name in one:
            assert abs(one[name] - many[name]) <= tolerance * max(1.0, abs(one[name])), (step, name)


def assert_same_step(one: dict, many: dict, network: str, lr: float):
    """The same gradients and, wherever a gradient is larger than its rounding error, the same new weights.

    Gradients are compared through Adam's first moments (its running mean of the gradients);
    they agree within 1e-4 of the largest one. That is float32 rounding: on the CPU the
    convolution algorithm, and so the order of the sums, depends on the batch size (one G call
    on 3B images and three calls on B differ as much, see test_sagan_training.py). Adam's first
    step moves each weight by about ±lr whatever the gradient's size, so where a gradient is
    within rounding of 0 (e.g. the biases of convolutions followed by an InstanceNorm without
    affine parameters, whose true gradient is exactly 0) its sign, and the weight, may differ
    by up to 2·lr. Everywhere else the new weights agree within 1e-6.
    """
    moments = one[f"{network}_moments"]
    largest = max(moment.abs().max().item() for moment in moments.values())
    for name, moment in moments.items():
        assert (moment - many[f"{network}_moments"][name]).abs().max().item() <= 1e-4 * largest, name
    for name, value in one[network].items():
        difference = (value.double() - many[network][name].double()).abs()  # weights, running statistics
        if name in moments:
            informative = moments[name].abs() > 1e-3 * largest  # ten times the rounding allowed above
            assert (difference * informative).max().item() < 1e-6, name
            assert difference.max().item() <= 2 * lr, name
        else:  # running statistics: no optimiser in between
            assert difference.max().item() < 1e-6, name


def differences(one: dict, many: dict, networks) -> str:
    """The largest differences, in words (shown with `pytest -s`)."""
    losses = max(abs(a[k] - b[k]) for a, b in zip(one["losses"], many["losses"]) for k in a)
    words = [f"max |Δloss| {losses:.1e}"]
    for network in networks:
        moments = max((m - many[f"{network}_moments"][k]).abs().max().item() for k, m in one[f"{network}_moments"].items())
        weights = max((w.double() - many[network][k].double()).abs().max().item() for k, w in one[network].items())
        words.append(f"{network}: max |Δgradient moment| {moments:.1e}, max |Δweight or statistic| {weights:.1e}")
    return "; ".join(words)


@pytest.mark.parametrize("join_mode", JOIN_CALLS)
def test_sagan_two_processes_match_one_process_on_the_whole_batch(sagan_two_processes, medad_root, tmp_path,
                                                                 join_mode):
    """One step of each network. Same sources, boxes, keep-masks and interpolation weights; DDP
    averages the gradients, the penalty's double backward included; running statistics averaged."""
    ranks = load_ranks(sagan_two_processes[join_mode], "step")
    single = sagan_trainer(sagan_config(medad_root, tmp_path), JOIN_CALLS[join_mode])
    one = sagan_state(single, [single.train_step() for _ in range(2)])

    print(f"\nSAGAN, {join_mode}, 2 processes vs 1 after one step of each network: "
          + differences(one, ranks[0], ("G", "D")))
    assert_same_losses(one["losses"], ranks[0]["losses"])
    for rank in ranks:
        assert rank["losses"] == ranks[0]["losses"]  # every process logs the same averaged losses
        assert torch.equal(rank["rng"], one["rng"])  # the random streams stay in step with one process
        for network in ("G", "D"):
            assert_same_step(one, rank, network, single.config.g_lr)


def test_sagan_resumes_on_another_number_of_processes(sagan_two_processes, medad_root):
    """The checkpoint the 2 processes wrote after iteration 2, resumed in 1 process, gives what
    the 2 processes computed in iterations 3 and 4."""
    folder = sagan_two_processes["one G call"]
    two = load_ranks(folder, "resumed")[0]
    resumed = sagan_trainer(sagan_config(medad_root, folder), True)
    resumed.load()
    assert resumed.iteration == 2
    one = sagan_state(resumed, [resumed.train_step() for _ in range(2)])
    assert_same_losses(one["losses"], two["losses"])
    for network in ("G", "D"):
        assert_same_step(one, two, network, resumed.config.g_lr)


def test_my_rows_keeps_this_processes_share_of_every_group(monkeypatch):
    batch = torch.arange(12)  # e.g. [x_A; x_B; x_B′] of 4 images each
    assert torch.equal(distributed.my_rows(batch, groups=3), batch)  # one process: all of it
    monkeypatch.setattr(distributed, "world_size", lambda: 2)
    monkeypatch.setattr(distributed, "rank", lambda: 1)
    assert distributed.my_rows(batch, groups=3).tolist() == [2, 3, 6, 7, 10, 11]
    assert distributed.my_rows(batch).tolist() == [6, 7, 8, 9, 10, 11]
    assert distributed.local_batch_size(16) == 8
    with pytest.raises(ValueError, match="--batch_size 5 does not split evenly over 2 processes"):
        distributed.local_batch_size(5)
