"""SAGAN's losses: the WGAN-GP critic loss and the generator's three terms.

Critic:     L_D = −E[D(x_B)] + E[D(G(x_A))] + λ_gp · E[(‖∇_x̂ D(x̂)‖₂ − 1)²]
            with x̂ = u·x_B + (1 − u)·G(x_A), one u ~ U(0, 1) per image.
Generator:  L_G = λ_adv · (−E[D(G(x_A))]) + λ_id · mean|x_B − G(x_B)| + λ_mse · mean (x_B − G(x_B′))²
            (the authors: λ_adv = λ_id = λ_mse = 1; a weight of 0 removes its term, an ablation)

x_A: unlabeled images, x_B: labeled normals, x_B′: x_B with a synthetic anomaly.
"""

import torch


def gradient_penalty(critic_out: torch.Tensor, inputs: torch.Tensor, grad_scale: float = 1.0) -> torch.Tensor:
    """`mean((‖∂D(x)/∂x‖₂ − 1)²)`, one gradient norm per image, kept differentiable.

    Under float16 autocast, `grad_scale` is the gradient scaler's current scale: the inner
    backward runs on the critic output times the scale, so that small gradients do not underflow
    in float16, and the gradient is divided by it again, in float32, before the norm (PyTorch's
    AMP recipe for gradient penalties). An overflow shows up as an infinite penalty; the
    scaler then skips the step.
    """
    scaled_out = critic_out.float() * grad_scale
    grad = torch.autograd.grad(
        outputs=scaled_out,
        inputs=inputs,
        grad_outputs=torch.ones_like(scaled_out),
        retain_graph=True,
        create_graph=True,
    )[0] / grad_scale
    grad_norm = grad.reshape(grad.shape[0], -1).norm(2, dim=1)  # (B,)
    return ((grad_norm - 1) ** 2).mean()


def interpolate(real: torch.Tensor, fake: torch.Tensor, u: torch.Tensor = None) -> torch.Tensor:
    """x̂ = u·real + (1 − u)·fake, one u ~ U(0, 1) per image `(B, 1, 1, 1)` (drawn unless given); x̂ requires grad."""
    if u is None:
        u = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
    return (u * real + (1 - u) * fake).requires_grad_(True)


def critic_loss(critic, normal: torch.Tensor, fake: torch.Tensor, lambda_gp: float = 10.0,
                u: torch.Tensor = None, grad_scale: float = 1.0):
    """WGAN-GP critic loss; returns `(total, parts)` with parts for logging.

    `u`: the interpolation weights (drawn here unless given); `grad_scale`: see `gradient_penalty`.
    """
    _, real_score = critic(normal)
    _, fake_score = critic(fake.detach())
    x_hat = interpolate(normal, fake.detach(), u)
    _, hat_score = critic(x_hat)
    gp = gradient_penalty(hat_score, x_hat, grad_scale)
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
