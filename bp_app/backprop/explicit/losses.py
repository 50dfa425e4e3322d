"""Output errors δ_L = ∂L/∂z_L for the losses bp_app trains with, and the penalty's gradient.

cross-entropy   L = −(1/N) Σ log softmax(z)_y        δ_L = (p − y) / N
mean squared    L = (1/NK) Σ (ŷ − y)²                 δ_L = 2 (ŷ − y) / (N K)
penalty         Ω = λ1 Σ|w| + (λ2/2) Σ w²             ∂Ω/∂w = λ1 sign(w) + λ2 w
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from bp_app.optim.regularization import Regularization

LOSSES = ("cross_entropy", "mse", "bce")


def loss_value(loss: str, z: Tensor, target: Tensor) -> Tensor:
    """L, averaged as torch's losses average it (over examples, and over outputs for mse / bce)."""
    if loss == "cross_entropy":
        return F.cross_entropy(z, target)  # L = −(1/N) Σ log softmax(z)_y
    if loss == "mse":
        return F.mse_loss(z, target)  # L = (1/NK) Σ (ŷ − y)²,  ŷ = z
    if loss == "bce":
        return F.binary_cross_entropy_with_logits(z, target)  # ŷ = sigmoid(z)
    raise ValueError(f"loss={loss!r} is unknown; choose one of: {', '.join(LOSSES)}")


def cross_entropy(z: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """L = −(1/N) Σ log p_y and log p, from one log_softmax that δ_L reuses."""
    log_p = torch.log_softmax(z, dim=1)  # log p = log softmax(z_L)   (N, K)
    return F.nll_loss(log_p, target), log_p


def cross_entropy_error(log_p: Tensor, target: Tensor) -> Tensor:
    """δ_L = (p − y) / N for softmax + cross-entropy, y one-hot, from log p."""
    n = len(target)
    delta = log_p.exp()  # p   (N, K)
    delta.scatter_add_(1, target.unsqueeze(1), delta.new_full((n, 1), -1.0))  # p − y
    return delta.div_(n)  # δ_L = (p − y) / N


def output_error(loss: str, z: Tensor, target: Tensor) -> Tensor:
    """δ_L = ∂L/∂z_L for the loss and its output activation."""
    if loss == "cross_entropy":
        return cross_entropy_error(torch.log_softmax(z, dim=1), target)  # δ_L = (p − y) / N
    if loss == "mse":
        return (z - target).mul_(2.0 / z.numel())  # δ_L = 2 (ŷ − y) / (N K)
    if loss == "bce":
        return (torch.sigmoid(z) - target).div_(z.numel())  # δ_L = (sigmoid(z) − y) / (N K)
    raise ValueError(f"loss={loss!r} is unknown; choose one of: {', '.join(LOSSES)}")


def penalty_gradient(regularizer: Regularization, w: Tensor) -> Tensor | None:
    """∂Ω/∂w = λ1 sign(w) + λ2 w for Ω = λ1 Σ|w| + (λ2/2) Σ w²; None when Ω is off."""
    if not regularizer.active:
        return None
    grad = torch.zeros_like(w)
    if regularizer.l1 > 0:
        grad.add_(torch.sign(w), alpha=regularizer.l1)  # λ1 sign(w)
    if regularizer.l2 > 0:
        grad.add_(w, alpha=regularizer.l2)  # λ2 w
    return grad


def add_penalty_gradients(
    grads: dict[Tensor, Tensor], regularizer: Regularization | None, module: torch.nn.Module
) -> dict[Tensor, Tensor]:
    """∂J/∂w = ∂L/∂w + ∂Ω/∂w for the parameters Ω covers (``module`` decides which)."""
    if regularizer is not None and regularizer.active:
        for p in regularizer.penalized(module):
            extra = penalty_gradient(regularizer, p)
            grads[p] = grads[p] + extra if p in grads else extra
    return grads


def accumulate_grads(grads: dict[Tensor, Tensor]) -> None:
    """Add each gradient into ``param.grad``, as autograd's backward would."""
    for param, grad in grads.items():
        grad = grad.to(param.dtype)  # a no-op in float32; fp16 products under autocast
        if param.grad is None:
            param.grad = grad
        else:
            param.grad.add_(grad)  # accumulation over batches (batch gradient descent)


def relative_error(grads: dict[Tensor, Tensor], reference: dict[Tensor, Tensor]) -> Tensor:
    """max over parameters of ‖g − g_ref‖ / ‖g_ref‖, as a tensor (no host sync)."""
    norm = torch.linalg.vector_norm
    errors = [norm(grads[p] - ref) / norm(ref).clamp_min(1e-30) for p, ref in reference.items()]
    return torch.stack(errors).max()
