"""The lecture's update rules, written out: SGD, momentum, Nesterov, RMSProp, Adam, AdamW.

Each class is a ``torch.optim.Optimizer``, so checkpoints, Lightning and AMP treat it like
torch.optim's own; its ``step`` is the textbook update, one line per equation. Notation:
w a parameter, g its gradient ∇J(w), η the learning rate, λ the weight decay, t the step count.
Each step works in place on the parameters and the state tensors, as torch.optim does. Two forms
of each rule: ``foreach=True`` runs ``bp_app.optim.multi_tensor``, one ``torch._foreach_*`` call
per equation for all tensors; ``foreach=False`` runs the per-tensor loop below, the readable
reference. Both are tested against torch.optim. ``foreach=None`` (the default) picks as
torch.optim does: multi-tensor for tensors on a GPU, where kernel launches dominate a step, and
the loop on the CPU, where it measured faster (bp-bench's optimizer rows).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor

from bp_app.optim import multi_tensor

Params = Iterable[Tensor] | Iterable[dict[str, Any]]


def _evaluate(closure: Callable[[], Any] | None) -> Any:
    """Run the closure with gradients on: Lightning passes one that runs its pre-step hooks."""
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()


def _with_gradients(group: dict[str, Any]) -> Iterable[tuple[Tensor, Tensor]]:
    """(w, g) for the group's parameters that received a gradient this step."""
    return ((w, w.grad) for w in group["params"] if w.grad is not None)


class WrittenOut(torch.optim.Optimizer):
    """A torch.optim.Optimizer whose form (``foreach``) stays this run's choice on resume."""

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        forms = [group["foreach"] for group in self.param_groups]
        super().load_state_dict(state_dict)  # restores each group's saved options, foreach too
        for group, foreach in zip(self.param_groups, forms, strict=True):
            group["foreach"] = foreach  # the same state serves both forms


class SGD(WrittenOut):
    """Gradient descent, with heavy-ball or Nesterov momentum when ``momentum`` > 0."""

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        foreach: bool | None = None,
    ) -> None:
        if nesterov and momentum <= 0:
            raise ValueError("Nesterov momentum needs momentum > 0")
        defaults = {"lr": lr, "momentum": momentum, "weight_decay": weight_decay}
        super().__init__(params, {**defaults, "nesterov": nesterov, "foreach": foreach})

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = _evaluate(closure)
        for group in self.param_groups:
            if multi_tensor.chosen(group):
                multi_tensor.sgd(group, self.state)
                continue
            lr, mu, decay = group["lr"], group["momentum"], group["weight_decay"]
            for w, g in _with_gradients(group):
                if decay:
                    g = g.add(w, alpha=decay)  # g ← g + λ w          (L2 term in the gradient)
                if mu:
                    state = self.state[w]
                    if "velocity" not in state:
                        state["velocity"] = g.clone()  # v_1 = g
                    else:
                        state["velocity"].mul_(mu).add_(g)  # v ← μ v + g
                    v = state["velocity"]
                    # Nesterov: step along g + μ v, the gradient seen from the look-ahead point.
                    g = g.add(v, alpha=mu) if group["nesterov"] else v  # d ← g + μ v  |  d ← v
                w.add_(g, alpha=-lr)  # w ← w − η d            (d = g without momentum)
        return loss


class RMSProp(WrittenOut):
    """RMSProp: each weight's step divided by a running RMS of its gradients."""

    def __init__(
        self,
        params: Params,
        lr: float = 1e-2,
        rho: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        foreach: bool | None = None,
    ) -> None:
        defaults = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay}
        options = {"momentum": momentum, "centered": centered, "foreach": foreach}
        super().__init__(params, {**defaults, **options})

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = _evaluate(closure)
        for group in self.param_groups:
            if multi_tensor.chosen(group):
                multi_tensor.rmsprop(group, self.state)
                continue
            lr, rho, eps, decay = group["lr"], group["rho"], group["eps"], group["weight_decay"]
            mu, centered = group["momentum"], group["centered"]
            for w, g in _with_gradients(group):
                state = self.state[w]
                if not state:
                    state["s"] = torch.zeros_like(w)  # running mean of g²
                    if centered:
                        state["g_mean"] = torch.zeros_like(w)  # running mean of g
                    if mu:
                        state["velocity"] = torch.zeros_like(w)
                if decay:
                    g = g.add(w, alpha=decay)  # g ← g + λ w
                s = state["s"].mul_(rho).addcmul_(g, g, value=1 - rho)  # s ← ρ s + (1−ρ) g²
                if centered:
                    g_mean = state["g_mean"].lerp_(g, 1 - rho)  # ḡ ← ρ ḡ + (1−ρ) g
                    rms = s.addcmul(g_mean, g_mean, value=-1).sqrt_()  # √(s − ḡ²): a std, not RMS
                else:
                    rms = s.sqrt()  # √s
                rms.add_(eps)  # √s + ε
                if mu:
                    v = state["velocity"].mul_(mu).addcdiv_(g, rms)  # v ← μ v + g / (√s + ε)
                    w.add_(v, alpha=-lr)  # w ← w − η v
                else:
                    w.addcdiv_(g, rms, value=-lr)  # w ← w − η g / (√s + ε)
        return loss


class Adam(WrittenOut):
    """Adam (Kingma and Ba, 2015): momentum on g and on g², both bias-corrected."""

    # AdamW sets this: λ shrinks the weights directly instead of entering the gradient.
    decoupled_decay = False

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        foreach: bool | None = None,
    ) -> None:
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, {**defaults, "amsgrad": amsgrad, "foreach": foreach})

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = _evaluate(closure)
        for group in self.param_groups:
            if multi_tensor.chosen(group):
                multi_tensor.adam(group, self.state, self.decoupled_decay)
                continue
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            decay, amsgrad = group["weight_decay"], group["amsgrad"]
            for w, g in _with_gradients(group):
                state = self.state[w]
                if not state:
                    state["t"] = 0
                    state["m"] = torch.zeros_like(w)  # first moment, E[g]
                    state["v"] = torch.zeros_like(w)  # second moment, E[g²]
                    if amsgrad:
                        state["v_max"] = torch.zeros_like(w)
                state["t"] += 1
                t = state["t"]
                if decay and self.decoupled_decay:
                    w.mul_(1 - lr * decay)  # w ← w − η λ w             (AdamW: decoupled)
                elif decay:
                    g = g.add(w, alpha=decay)  # g ← g + λ w            (Adam: L2 in the gradient)
                m = state["m"].lerp_(g, 1 - beta1)  # m ← β1 m + (1−β1) g
                v = state["v"].mul_(beta2).addcmul_(g, g, value=1 - beta2)  # v ← β2 v + (1−β2) g²
                if amsgrad:
                    v = torch.maximum(state["v_max"], v, out=state["v_max"])  # v ← max(v_max, v)
                # m̂ = m / (1−β1^t), v̂ = v / (1−β2^t); the corrections are scalars, so they fold
                # into η and √v's divisor instead of costing two more passes over the tensors.
                step_size = lr / (1 - beta1**t)  # η / (1−β1^t)
                denom = v.sqrt().div_(math.sqrt(1 - beta2**t)).add_(eps)  # √v̂ + ε
                w.addcdiv_(m, denom, value=-step_size)  # w ← w − η m̂ / (√v̂ + ε)
        return loss


class AdamW(Adam):
    """AdamW (Loshchilov and Hutter, 2019): Adam with weight decay taken out of the gradient."""

    decoupled_decay = True

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        foreach: bool | None = None,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach)
