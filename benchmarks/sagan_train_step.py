"""Seconds per SAGAN training iteration: the authors' loop against the kit's trainer.

    python benchmarks/sagan_train_step.py                      # small: conv_dim 8, repeat 1, batch 8
    python benchmarks/sagan_train_step.py --full --iters 20    # the authors' full config, batch 16
    python benchmarks/sagan_train_step.py --both_paths         # one G call on 3B images vs three calls
    python benchmarks/sagan_train_step.py --compile            # also time torch.compile
    python benchmarks/sagan_train_step.py --full --amp         # with and without the autocast --amp picks
    python benchmarks/sagan_train_step.py --full --amp bf16 fp16   # each type (fp16 with its gradient scalers)

Both loops run the same networks on the same random batches. The "authors"
loop (`sagan_lib.authors_loop.authors_step`) repeats their update order exactly:
G runs once in the critic step with its graph kept, then three more times in the
generator step, with the critic's weight gradients computed. Iterations are averaged over an even count, since
the generator steps on every second one (n_critic = 2), and the contenders
take turns pair by pair so that a shared machine's ups and downs hit all alike.
"""

import argparse
import time

import torch

from anomaly_lib.amp import choose_amp_dtype
from anomaly_lib.device import describe_device, pick_device
from sagan_lib.authors_loop import authors_step
from sagan_lib.config import SaganConfig
from sagan_lib.train import SaganTrainer

CALLS = {True: "one G call on 3B", False: "three G calls"}  # SaganTrainer.join_calls, in words


class RandomBatches:
    """Stands in for MedADTrainSet: random images in [-1, 1], made on the device."""

    def __init__(self, image_size, count=64):
        self.image_size, self.count = image_size, count

    def __len__(self):
        return self.count

    def batch(self, indices, device="cpu", generator=None):
        shape = (len(indices), 1, self.image_size, self.image_size)
        images = [torch.rand(shape, device=device) * 2 - 1 for _ in range(3)]
        return (*images, images[2] > 0)


def seconds_per_iteration(steps: dict, iters: int, warmup: int = 2) -> dict:
    """Time every contender on the same iterations, interleaved pair by pair.

    Each round runs one critic-only and one generator iteration of each
    contender in turn, so a machine that speeds up or slows down (a shared
    CPU, thermal limits) affects all of them alike.
    """
    def run_pair(step, first):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        step(first)
        step(first + 1)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return time.perf_counter() - start

    for step in steps.values():
        for i in range(0, warmup, 2):
            run_pair(step, i)
    totals = dict.fromkeys(steps, 0.0)
    for i in range(warmup, warmup + iters, 2):
        for name, step in steps.items():
            totals[name] += run_pair(step, i)
    return {name: total / iters for name, total in totals.items()}


def make_trainer(args, **overrides) -> SaganTrainer:
    size = dict(g_conv_dim=64, d_conv_dim=64, g_repeat_num=6, batch_size=16) if args.full else \
        dict(g_conv_dim=8, d_conv_dim=8, g_repeat_num=1, batch_size=8)
    size.update(g_conv_dim=args.conv_dim or size["g_conv_dim"], d_conv_dim=args.conv_dim or size["d_conv_dim"],
                g_repeat_num=args.repeat_num or size["g_repeat_num"], batch_size=args.batch or size["batch_size"])
    config = SaganConfig(device=args.device, num_iters=10 ** 6, num_iters_decay=1, **size, **overrides)
    return SaganTrainer(config, RandomBatches(config.image_size), log=lambda *_: None)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the authors' full config (conv_dim 64, repeat 6, batch 16)")
    parser.add_argument("--conv_dim", type=int)
    parser.add_argument("--repeat_num", type=int)
    parser.add_argument("--batch", type=int)
    parser.add_argument("--iters", type=int, default=20, help="timed iterations (rounded up to even)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--both_paths", action="store_true",
                        help="also time the generator-call strategy the trainer did not pick")
    parser.add_argument("--compile", action="store_true", help="also time the kit with torch.compile")
    parser.add_argument("--amp", nargs="*", choices=["auto", "bf16", "fp16"],
                        help="also time the kit under autocast (channels-last on CUDA): auto (what --amp "
                             "picks on this device; the default), bf16 and/or fp16")
    args = parser.parse_args()
    iters = args.iters + args.iters % 2
    device = pick_device(args.device)
    print(f"device: {describe_device(device)}; timed iterations: {iters}")

    authors = make_trainer(args)
    cfg = authors.config
    print(f"config: conv_dim {cfg.g_conv_dim}, repeat_num {cfg.g_repeat_num}, batch {cfg.batch_size}, "
          f"{cfg.image_size}×{cfg.image_size}, n_critic {cfg.n_critic}")
    kit = make_trainer(args)
    def authors_iteration(i):
        authors_step(authors, authors.train_set.batch(authors.batches.next(), authors.device)[:3], i)

    steps = {"authors' loop": authors_iteration, "kit": lambda i: kit.train_step()}
    if args.both_paths:
        other = make_trainer(args)
        other.join_calls = not kit.join_calls
        steps[f"kit, {CALLS[other.join_calls]}"] = lambda i: other.train_step()
    if args.compile:
        compiled = make_trainer(args, compile=True)
        steps["kit + compile"] = lambda i: compiled.train_step()
    for amp_dtype in ([] if args.amp is None else args.amp or ["auto"]):
        dtype, why = choose_amp_dtype(device, amp=True, amp_dtype=amp_dtype)
        print(f"--amp {amp_dtype}: {why}")
        trainer = make_trainer(args, amp=True, amp_dtype=amp_dtype, channels_last=True)
        steps[f"kit + {amp_dtype} ({str(dtype).replace('torch.', '')})"] = lambda i, t=trainer: t.train_step()
    print(f"kit's generator step: {CALLS[kit.join_calls]}")
    results = seconds_per_iteration(steps, iters, warmup=4 if args.compile else 2)

    base = results["authors' loop"]
    for name, seconds in results.items():
        print(f"{name:34s} {seconds:8.4f} s/iteration  {1 / seconds:7.2f} it/s  speed-up {base / seconds:5.2f}×")


if __name__ == "__main__":
    main()
