"""L1, L2 and elastic-net penalties: Ω(θ) = λ1 Σ|w| + (λ2 / 2) Σ w², and the weights' sparsity.

∂Ω/∂w = λ1 sign(w) + λ2 w: L2 shrinks every weight in proportion to its size (the same step as
SGD's weight decay λ2), L1 pulls each towards 0 by a constant amount, so small weights reach 0
and stay near it: the share of near-zero weights (``sparsity``) shows L1 at work.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

# A weight this close to 0 counts as pruned when measuring sparsity.
SPARSITY_THRESHOLD = 1e-3


def is_weight(name: str, param: nn.Parameter) -> bool:
    """Weights are matrices and filters; biases and norm scales are vectors and stay unpenalized."""
    return param.ndim > 1 and not name.endswith("bias")


class Regularization:
    """The penalty added to the loss in the mixin's loss stage."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0, include_bias: bool = False) -> None:
        if l1 < 0 or l2 < 0:
            raise ValueError(f"regularization strengths must be >= 0, got l1={l1}, l2={l2}")
        self.l1 = float(l1)
        self.l2 = float(l2)
        self.include_bias = include_bias

    @property
    def active(self) -> bool:
        return self.l1 > 0 or self.l2 > 0

    def penalized(self, module: nn.Module) -> list[Tensor]:
        """The parameters the penalty applies to."""
        return [
            p
            for name, p in module.named_parameters()
            if p.requires_grad and (self.include_bias or is_weight(name, p))
        ]

    def penalty(self, module: nn.Module) -> Tensor | None:
        """Ω(θ) = λ1 Σ|w| + (λ2 / 2) Σ w², or None when no penalty is configured."""
        if not self.active:
            return None
        params = self.penalized(module)
        total = torch.zeros((), device=params[0].device if params else None)
        if self.l1 > 0:
            total = total + self.l1 * sum(p.abs().sum() for p in params)  # λ1 Σ|w|
        if self.l2 > 0:
            total = total + 0.5 * self.l2 * sum(p.pow(2).sum() for p in params)  # (λ2/2) Σ w²
        return total

    def sparsity(self, module: nn.Module, threshold: float = SPARSITY_THRESHOLD) -> Tensor:
        """The share of weights (matrices and filters) with |w| < threshold, as a 0-dim tensor.

        Stays on the device (no host sync); the mixin computes it only on logging steps.
        """
        weights = [p for name, p in module.named_parameters() if is_weight(name, p)]
        if not weights:
            return torch.zeros(())
        small = sum((w.detach().abs() < threshold).sum() for w in weights)  # #{|w| < threshold}
        return small / sum(w.numel() for w in weights)
