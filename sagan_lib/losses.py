"""SAGAN's losses: the WGAN-GP critic loss and the generator's three terms.

Critic:     L_D = −E[D(x_B)] + E[D(G(x_A))] + λ_gp · E[(‖∇_x̂ D(x̂)‖₂ − 1)²]
            with x̂ = u·x_B + (1 − u)·G(x_A), one u ~ U(0, 1) per image.
Generator:  L_G = λ_adv · (−E[D(G(x_A))]) + λ_id · mean|x_B − G(x_B)| + λ_mse · mean (x_B − G(x_B′))²
            (the authors: λ_adv = λ_id = λ_mse = 1; a weight of 0 removes its term, an ablation)

x_A: unlabeled images, x_B: labeled normals, x_B′: x_B with a synthetic anomaly.
"""

import torch


def gradient_penalty(critic_out: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """`mean((‖∂D(x)/∂x‖₂ − 1)²)`, one gradient norm per image, kept differentiable."""
    grad = torch.autograd.grad(
        outputs=critic_out,
        inputs=inputs,
        grad_outputs=torch.ones_like(critic_out),
        retain_graph=True,
        create_graph=True,
    )[0]
    grad_norm = grad.reshape(grad.shape[0], -1).norm(2, dim=1)  # (B,)
    return ((grad_norm - 1) ** 2).mean()


def interpolate(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """x̂ = u·real + (1 − u)·fake with one u per image; x̂ requires grad."""
    u = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
    return (u * real + (1 - u) * fake).requires_grad_(True)


def critic_loss(critic, normal: torch.Tensor, fake: torch.Tensor, lambda_gp: float = 10.0):
    """WGAN-GP critic loss; returns `(total, parts)` with parts for logging."""
    _, real_score = critic(normal)
    _, fake_score = critic(fake.detach())
    x_hat = interpolate(normal, fake.detach())
    _, hat_score = critic(x_hat)
    gp = gradient_penalty(hat_score, x_hat)
    loss_real, loss_fake = -real_score.mean(), fake_score.mean()
    total = loss_real + loss_fake + lambda_gp * gp
    return total, {"D/loss_real": loss_real, "D/loss_fake": loss_fake, "D/loss_gp": gp}


def generator_loss(fake_score, normal: torch.Tensor, normal_rec: torch.Tensor, anomaly_rec,
                   lambda_id: float = 1.0, lambda_adv: float = 1.0, lambda_mse: float = 1.0):
    """λ_adv·adversarial + λ_id·identity (L1) + λ_mse·anomaly-removal (MSE); returns `(total, parts)`.

    A term whose weight is 0 is left out of the sum and of `parts`; its input (`fake_score`
    or `anomaly_rec`) may then be None, so the trainer need not compute it.
    """
    parts = {}
    if lambda_adv:
        parts["G/loss_fake"] = -fake_score.mean()
    parts["G/loss_id"] = (normal - normal_rec).abs().mean()
    if lambda_mse:
        parts["G/loss_mse"] = ((normal - anomaly_rec) ** 2).mean()
    weights = {"G/loss_fake": lambda_adv, "G/loss_id": lambda_id, "G/loss_mse": lambda_mse}
    total = sum(weights[name] * value for name, value in parts.items())
    return total, parts
