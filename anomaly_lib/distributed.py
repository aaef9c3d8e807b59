"""Training on several processes with torchrun and DistributedDataParallel: the shared pieces.

    torchrun --nproc_per_node 4 -m sagan_lib --mode train ...

torchrun starts one process per GPU and describes the group to each through environment
variables (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT). `start` joins that group;
the rest are the few things both trainers need: this process's share of a batch, averages and
gathers over processes, a meeting point that carries errors, and the DistributedDataParallel wrapper.

Every batch is one batch of B images split into N equal shares, one per process. Random draws that
belong to images are made for the whole batch, in the same order and from the same seed on every
process, as one process would make them; each process then keeps its own rows (`my_rows`).

Where the processes must wait for one another (rank 0 claims the run folder, writes a checkpoint,
scores the held-out images), they meet with `together()` rather than a bare barrier: an error in
any process then stops every process with that error instead of leaving the others waiting.

Without torchrun nothing here does anything: rank 0 of 1, `my_rows` and `gather_rows` return
their input, and the trainers run exactly as they do in one process.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import warnings

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Subset

from .cli import describe_error


def launched_by_torchrun() -> bool:
    """True in a process that torchrun started as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def start(device) -> torch.device:
    """Join torchrun's process group (once) and return this process's device.

    On CUDA each process takes the GPU `LOCAL_RANK` and talks over NCCL; on a CPU over gloo.
    Without torchrun `device` comes back unchanged.
    """
    device = torch.device(device)
    if not launched_by_torchrun():
        return device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not is_distributed():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def stop() -> None:
    """Leave the process group (at the end of a torchrun job)."""
    if is_distributed():
        dist.destroy_process_group()


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """The process that logs and writes files (rank 0)."""
    return rank() == 0


class OtherProcessFailed(RuntimeError):
    """Another process stopped with an error inside a `together()` block."""


@contextlib.contextmanager
def together():
    """A block every process runs, ending in a barrier that carries errors.

    Every process waits at the end of the block until all have got there (e.g. until rank 0 has
    written a checkpoint). If the block raised in any process, every process raises: the failing
    one its own error, the others `OtherProcessFailed` quoting it. So no process is left waiting
    for one that has stopped. In one process it is just the block.
    """
    if world_size() == 1:
        yield
        return
    try:
        yield
    except Exception as error:
        gather_objects(describe_error(error))  # the others' gather below receives it
        raise
    failures = [(process, message) for process, message in enumerate(gather_objects(None)) if message]
    if failures:
        process, message = failures[0]
        raise OtherProcessFailed(f"process {process} (of {world_size()}) stopped: {message}")


def run_alone_in_rank_zero(what: str) -> bool:
    """For work that uses one process (`what`, e.g. "--mode predict") started by torchrun.

    Rank 0 goes on as a process started alone (its group is never joined) and this returns
    True there; the other processes get False and should stop, having nothing to do. Without
    torchrun: True.
    """
    if not launched_by_torchrun():
        return True
    if int(os.environ.get("RANK", "0")) != 0:
        return False
    print(f"{what} runs in one process: rank 0 does it, the other {int(os.environ['WORLD_SIZE']) - 1} "
          "process(es) of torchrun stop")
    os.environ["WORLD_SIZE"] = "1"  # from here on this process is one process of one
    return True


def in_processes(mode: str, command, modes_in_every_process) -> None:
    """Run ``command()`` for ``--mode mode``, then leave torchrun's process group (if any).

    Modes in ``modes_in_every_process`` use every process; any other mode runs in rank 0
    alone and the other processes stop at once (``run_alone_in_rank_zero``).
    """
    if mode not in modes_in_every_process and not run_alone_in_rank_zero(f"--mode {mode}"):
        return
    try:
        command()
    finally:
        stop()


def log_of_this_process(log):
    """``log`` in rank 0, which speaks for all; a function that prints nothing in the others."""
    return log if is_main() else _silent


def _silent(*_):
    pass


def local_batch_size(batch_size: int, flag: str = "batch_size") -> int:
    """This process's share B/N of a batch of B; B must split evenly."""
    processes = world_size()
    if batch_size % processes:
        raise ValueError(f"--{flag} {batch_size} does not split evenly over {processes} processes; "
                         f"use a multiple of {processes}")
    return batch_size // processes


def my_rows(tensor: torch.Tensor, groups: int = 1) -> torch.Tensor:
    """This process's rows of a tensor made for the whole batch.

    The tensor is `groups` sub-batches stacked along dim 0 (e.g. [x_A; x_B; x_B′]), each split
    into N equal shares in rank order; rank r keeps share r of every group.
    """
    processes = world_size()
    if processes == 1:
        return tensor
    shares = tensor.unflatten(0, (groups, processes, -1))  # (groups, N, rows per share, …)
    return shares[:, rank()].flatten(0, 1)  # (groups · rows per share, …)


def share(count: int, what: str = "items") -> range:
    """This process's contiguous share of `count` items (shares differ in size by at most 1)."""
    processes = world_size()
    if count < processes:
        raise ValueError(f"{count} {what} cannot be shared by {processes} processes")
    bounds = [count * r // processes for r in range(processes + 1)]
    return range(bounds[rank()], bounds[rank() + 1])


def my_share_of(loader: DataLoader, what: str = "images") -> DataLoader:
    """The same loader over this process's contiguous share of its (unshuffled) dataset."""
    if world_size() == 1:
        return loader
    part = Subset(loader.dataset, share(len(loader.dataset), what))
    return DataLoader(part, batch_size=loader.batch_size, num_workers=loader.num_workers,
                      collate_fn=loader.collate_fn, pin_memory=loader.pin_memory)


def gather_objects(value) -> list:
    """Every process's `value` (any picklable object), in rank order."""
    if world_size() == 1:
        return [value]
    values = [None] * world_size()
    dist.all_gather_object(values, value)
    return values


def gather_rows(tensor: torch.Tensor) -> torch.Tensor:
    """Every process's rows, in rank order, with gradients flowing back to each process's own rows.

    `torch.distributed.nn.all_gather` is differentiable: in backward, each process receives the sum
    over processes of the gradients for its rows.
    """
    if world_size() == 1:
        return tensor
    from torch.distributed.nn import all_gather

    with warnings.catch_warnings():  # recent torch points to a private module instead; this one is public
        warnings.filterwarnings("ignore", "torch.distributed.nn.functional.all_gather is deprecated")
        return torch.cat(all_gather(tensor.contiguous()))  # (N · rows, …)


def mean_over_processes(values: dict) -> dict:
    """Numbers (0-dim tensors) → floats averaged over the processes, in one all-reduce.

    Each process holds the mean over its equal share, so the average is the whole batch's mean.
    """
    if not values:
        return {}
    names = list(values)
    totals = torch.stack([torch.as_tensor(values[name]).detach().double() for name in names])  # (K,)
    if world_size() > 1:
        dist.all_reduce(totals)
        totals /= world_size()
    return dict(zip(names, totals.tolist()))


def average_buffers(module: nn.Module, suffixes=("running_mean", "running_var")) -> None:
    """Average the running statistics over the processes, in place, with one all-reduce.

    A running-statistics update is `r ← (1 − m)·r + m·(mean over the batch of per-sample
    statistics)`. Every process starts from the same r, so the average over processes of their
    updates on equal shares is the update on the whole batch.
    """
    if world_size() == 1:
        return
    buffers = [b for name, b in module.named_buffers() if name.endswith(suffixes)]
    if not buffers:
        return
    flat = torch.cat([b.reshape(-1) for b in buffers])
    dist.all_reduce(flat)
    flat /= world_size()
    for buffer, values in zip(buffers, flat.split([b.numel() for b in buffers])):
        buffer.copy_(values.view_as(buffer))


def data_parallel(module: nn.Module, device, sync_buffers: bool = True) -> nn.Module:
    """`module` wrapped in DistributedDataParallel when there are several processes, else itself.

    Gradients are averaged over processes during backward; each process computes a mean over
    its equal share, so the average is the whole batch's gradient. `sync_buffers=False` stops
    DDP from copying rank 0's buffers (running statistics) to the others before every forward.
    """
    if world_size() == 1:
        return module
    device = torch.device(device)
    ddp = nn.parallel.DistributedDataParallel
    # torch ≥ 2.10 renamed `broadcast_buffers` to `forward_sync_buffers` (the old name warns).
    name = "forward_sync_buffers" if "forward_sync_buffers" in inspect.signature(ddp).parameters else "broadcast_buffers"
    return ddp(module, device_ids=[device] if device.type == "cuda" else None, **{name: sync_buffers})
