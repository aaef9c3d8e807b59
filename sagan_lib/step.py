"""One SAGAN iteration: the whole algorithm, read top to bottom.

Critic step (every iteration):
    L_D = −mean D(x_B) + mean D(G(x_A)) + λ_gp · mean (‖∇_x̂ D(x̂)‖₂ − 1)²,  x̂ = u·x_B + (1 − u)·G(x_A)
Generator step (when (i + 1) % n_critic == 0):
    L_G = −λ_adv · mean D(G(x_A)) + λ_id · mean |x_B − G(x_B)| + λ_mse · mean (x_B − G(x_B′))²

x_A: unlabeled images, x_B: labeled normals, x_B′: x_B with a synthetic anomaly. Ablations:
λ_adv = 0 skips the critic step and never shows G x_A; λ_mse = 0 never shows G x_B′.

The engine (`SaganTrainer`) supplies everything that is not the algorithm, through the object
passed as `engine`:
    engine.config            the λs (`SaganConfig`)
    engine.generate(*xs)     G in train mode on full images, through the window grid, in ONE call
                             on the batches given (None stays None); keep-masks, AMP, DDP inside
    engine.join_calls        whether a generator iteration sends x_A, x_B, x_B′ through one call
    engine.D_train, engine.D the critic to train (DDP-wrapped under torchrun) and the plain one
    engine.d_amp, engine.g_amp  autocast regions and the float16 gradient scale
    engine.interpolation_weights()  one u ~ U(0, 1) per image, (b, 1, 1, 1)
    engine.update_critic(L), engine.update_generator(L)  backward and optimiser step
The random draws come in a fixed order (keep-masks of x_A, u, then those of x_B and x_B′),
so the same seed gives the same numbers with one process or several.
"""

import torch

from .losses import critic_loss, generator_loss


def sagan_step(engine, unlabeled, normal, anomaly, generator_turn: bool) -> dict:
    """One iteration on `(x_A, x_B, x_B′)`, each `(b, 1, H, W)`; returns the losses (tensors)."""
    cfg = engine.config
    x_a = unlabeled if cfg.lambda_adv != 0 else None  # λ_adv = 0: no critic, G never sees x_A
    x_b_prime = anomaly if cfg.lambda_mse != 0 else None  # λ_mse = 0: G never sees x_B′
    joined = generator_turn and engine.join_calls
    fake = normal_rec = anomaly_rec = None
    if joined:  # x_A, x_B, x_B′ through G at once; G(x_A) keeps its graph for the generator step
        fake, normal_rec, anomaly_rec = engine.generate(x_a, normal, x_b_prime)
    elif x_a is not None:
        with torch.set_grad_enabled(generator_turn):  # a critic-only iteration needs no graph of G
            fake, = engine.generate(x_a)

    losses = {}
    if x_a is not None:  # critic step: the critic sees G(x_A) detached
        u = engine.interpolation_weights()
        with engine.d_amp.autocast():
            d_loss, losses = critic_loss(engine.D_train, normal, fake, cfg.lambda_gp, u, engine.d_amp.scale)
        losses["D/loss"] = d_loss
        engine.update_critic(d_loss)

    if generator_turn:  # generator step: the critic judges G(x_A) but is not trained by it
        if not joined:
            normal_rec, = engine.generate(normal)
            anomaly_rec, = engine.generate(x_b_prime)
        fake_score = None
        if x_a is not None:
            engine.D.requires_grad_(False)
            with engine.g_amp.autocast():
                fake_score = engine.D(fake)[1].float()
        g_loss, g_parts = generator_loss(fake_score, normal, normal_rec, anomaly_rec,
                                         cfg.lambda_id, cfg.lambda_adv, cfg.lambda_mse)
        engine.update_generator(g_loss)
        engine.D.requires_grad_(True)
        losses.update(g_parts, **{"G/loss": g_loss})
    return losses
