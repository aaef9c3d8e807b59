"""SAGAN's losses: the WGAN-GP critic loss and the generator's three terms.

Critic:     L_D = −E[D(x_B)] + E[D(G(x_A))] + λ_gp · E[(‖∇_x̂ D(x̂)‖₂ − 1)²]
            with x̂ = u·x_B + (1 − u)·G(x_A), one u ~ U(0, 1) per image.
Generator:  L_G = −E[D(G(x_A))] + λ_id · mean|x_B − G(x_B)| + mean (x_B − G(x_B′))²

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


def generator_loss(fake_score: torch.Tensor, normal: torch.Tensor, normal_rec: torch.Tensor,
                   anomaly_rec: torch.Tensor, lambda_id: float = 1.0):
    """Adversarial + λ_id·identity (L1) + anomaly-removal (MSE); returns `(total, parts)`."""
    loss_adv = -fake_score.mean()
    loss_id = (normal - normal_rec).abs().mean()
    loss_mse = ((normal - anomaly_rec) ** 2).mean()
    total = loss_adv + lambda_id * loss_id + loss_mse
    return total, {"G/loss_fake": loss_adv, "G/loss_id": loss_id, "G/loss_mse": loss_mse}
