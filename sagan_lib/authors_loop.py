"""The authors' training loop, re-run line by line, to check the kit's trainer against it.

`SaganTrainer` does the same maths with less work (see `train.py`). This module repeats
what the authors' `Solver.train` does, on the networks and optimisers of a `SaganTrainer`
(so both start from the same weights for the same seed):

  * data: a `DataLoader` over the training items, reshuffled on every pass. Item i pairs
    unlabeled image i with labeled normal i, and pastes a synthetic anomaly into normal i.
    The last, shorter batch of a pass is kept: PyTorch's default (the notes we have on their
    code do not say whether their loader drops it);
  * order: critic step first, with G(x_A) computed with its graph kept; then, every
    n_critic iterations, three more generator calls (x_B, x_B′, x_A again) and the critic's
    weight gradients computed and thrown away: four generator calls per generator iteration;
  * their learning-rate step: every `lr_update_step` iterations once past
    `num_iters − num_iters_decay`, both rates drop by `lr / num_iters_decay`.

Used by `benchmarks/sagan_train_step.py` (speed) and `benchmarks/sagan_fidelity.py` (AUC).
"""

from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader

from .losses import critic_loss, generator_loss
from .windows import from_windows, to_windows


def authors_step(trainer, batch, iteration: int) -> dict:
    """One iteration in the authors' order on `batch = (x_A, x_B, x_B′)`; returns the losses.

    The losses are `losses.py`'s, the ones `sagan_step` uses; only the order of the calls and the
    extra work are the authors'.
    """
    cfg, G, D, P = trainer.config, trainer.G, trainer.D, trainer.config.num_patch
    real_a, real_b, anomaly_b = batch
    bs = real_a.shape[0]
    a_windows, b_windows, anomaly_windows = (to_windows(x, P) for x in (real_a, real_b, anomaly_b))

    fake_a = from_windows(G(a_windows, bs), P)  # graph kept although only its values are used
    alpha = torch.rand(bs, 1, 1, 1, device=real_b.device)
    d_loss, _ = critic_loss(D, real_b, fake_a, cfg.lambda_gp, alpha)
    trainer.g_optimizer.zero_grad()
    trainer.d_optimizer.zero_grad()
    d_loss.backward()
    trainer.d_optimizer.step()
    losses = {"D/loss": d_loss.item()}

    if (iteration + 1) % cfg.n_critic == 0:
        fake_b = from_windows(G(b_windows, bs), P)
        fake_anomaly = from_windows(G(anomaly_windows, bs), P)
        fake_a = from_windows(G(a_windows, bs), P)
        _, out_fake = D(fake_a)  # the critic's weight gradients are computed, then thrown away
        g_loss, _ = generator_loss(out_fake, real_b, fake_b, fake_anomaly, cfg.lambda_id)
        trainer.g_optimizer.zero_grad()
        trainer.d_optimizer.zero_grad()
        g_loss.backward()
        trainer.g_optimizer.step()
        losses["G/loss"] = g_loss.item()
    return losses


def authors_lr_update(trainer, iteration: int) -> None:
    """Their decay after iteration `iteration` (0-based): a step of lr / num_iters_decay."""
    cfg = trainer.config
    if (iteration + 1) % cfg.lr_update_step == 0 and (iteration + 1) > cfg.num_iters - cfg.num_iters_decay:
        for optimizer, initial in ((trainer.g_optimizer, cfg.g_lr), (trainer.d_optimizer, cfg.d_lr)):
            for group in optimizer.param_groups:
                group["lr"] -= initial / cfg.num_iters_decay


def authors_batches(train_set, batch_size: int, device="cpu", seed: int = 0) -> Iterator:
    """Their data stream: `(x_A, x_B, x_B′)` batches from a shuffled DataLoader, pass after pass."""
    loader = DataLoader(train_set, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))
    while True:
        for unlabeled, normal, anomaly, _ in loader:
            yield unlabeled.to(device), normal.to(device), anomaly.to(device)


def train_like_authors(trainer, num_iters: int, after_iteration=None) -> None:
    """Run the authors' loop on `trainer`'s networks for `num_iters` iterations.

    `after_iteration(i)` (optional) is called after iteration i (1-based), e.g. to evaluate.
    """
    batches = authors_batches(trainer.train_set, trainer.config.batch_size, trainer.device, trainer.config.seed)
    trainer.G.train()
    for i in range(num_iters):
        authors_step(trainer, next(batches), i)
        authors_lr_update(trainer, i)
        if after_iteration is not None:
            after_iteration(i + 1)
