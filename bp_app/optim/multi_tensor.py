"""The update rules of ``bp_app.optim.optimizers``, applied to all of a group's tensors at once.

``torch._foreach_*`` ops take lists of tensors: one call updates every weight matrix and bias, so
a step costs a handful of kernel launches (on a GPU) or C++ loops (on a CPU) instead of one
Python-level call per tensor per equation. The equations and the state names ("velocity", "s",
"m", "v", "t") are the per-tensor form's, so a checkpoint moves between the two forms, and the
tests check both against torch.optim. Notation: w a parameter, g its gradient, η the learning
rate, λ the weight decay, t the step count; each line is the per-tensor equation over a list.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor

State = dict[Tensor, dict[str, Any]]


def chosen(group: dict[str, Any]) -> bool:
    """Whether a group's step takes this form: its ``foreach``, else whether it is on a GPU."""
    if group["foreach"] is not None:
        return bool(group["foreach"])
    return any(w.device.type != "cpu" for w in group["params"])


def buckets(group: dict[str, Any]) -> Iterator[tuple[list[Tensor], list[Tensor]]]:
    """(weights, gradients) per device and dtype: a foreach op needs its lists on one of each."""
    by_kind: dict[tuple, tuple[list[Tensor], list[Tensor]]] = defaultdict(lambda: ([], []))
    for w in group["params"]:
        if w.grad is not None:
            ws, gs = by_kind[(w.device, w.dtype)]
            ws.append(w)
            gs.append(w.grad)
    yield from by_kind.values()


def sgd(group: dict[str, Any], state: State) -> None:
    """Gradient descent with heavy-ball or Nesterov momentum, over lists."""
    lr, mu, decay, nesterov = (
        group["lr"],
        group["momentum"],
        group["weight_decay"],
        group["nesterov"],
    )
    for ws, gs in buckets(group):
        if decay:
            gs = torch._foreach_add(gs, ws, alpha=decay)  # g ← g + λ w
        if mu:
            old = [i for i, w in enumerate(ws) if "velocity" in state[w]]
            for i, w in enumerate(ws):
                if "velocity" not in state[w]:
                    state[w]["velocity"] = gs[i].clone()  # v_1 = g
            if old:
                vs_old = [state[ws[i]]["velocity"] for i in old]
                torch._foreach_mul_(vs_old, mu)  # v ← μ v
                torch._foreach_add_(vs_old, [gs[i] for i in old])  # v ← μ v + g
            vs = [state[w]["velocity"] for w in ws]
            if nesterov:  # in place, as torch.optim does: g is not read again before zero_grad
                torch._foreach_add_(gs, vs, alpha=mu)  # d ← g + μ v
            else:
                gs = vs  # d ← v
        torch._foreach_add_(ws, gs, alpha=-lr)  # w ← w − η d


def rmsprop(group: dict[str, Any], state: State) -> None:
    """RMSProp over lists: each step divided by a running RMS of the gradients."""
    lr, rho, eps, decay = group["lr"], group["rho"], group["eps"], group["weight_decay"]
    mu, centered = group["momentum"], group["centered"]
    for ws, gs in buckets(group):
        for w in ws:
            if not state[w]:
                state[w]["s"] = torch.zeros_like(w)  # running mean of g²
                if centered:
                    state[w]["g_mean"] = torch.zeros_like(w)  # running mean of g
                if mu:
                    state[w]["velocity"] = torch.zeros_like(w)
        if decay:
            gs = torch._foreach_add(gs, ws, alpha=decay)  # g ← g + λ w
        s = [state[w]["s"] for w in ws]
        torch._foreach_mul_(s, rho)  # s ← ρ s
        torch._foreach_addcmul_(s, gs, gs, value=1 - rho)  # s ← ρ s + (1−ρ) g²
        if centered:
            g_mean = [state[w]["g_mean"] for w in ws]
            torch._foreach_lerp_(g_mean, gs, 1 - rho)  # ḡ ← ρ ḡ + (1−ρ) g
            rms = torch._foreach_addcmul(s, g_mean, g_mean, value=-1)  # s − ḡ²
            torch._foreach_sqrt_(rms)  # √(s − ḡ²)
        else:
            rms = torch._foreach_sqrt(s)  # √s
        torch._foreach_add_(rms, eps)  # √s + ε
        if mu:
            vs = [state[w]["velocity"] for w in ws]
            torch._foreach_mul_(vs, mu)  # v ← μ v
            torch._foreach_addcdiv_(vs, gs, rms)  # v ← μ v + g / (√s + ε)
            torch._foreach_add_(ws, vs, alpha=-lr)  # w ← w − η v
        else:
            torch._foreach_addcdiv_(ws, gs, rms, value=-lr)  # w ← w − η g / (√s + ε)


def adam(group: dict[str, Any], state: State, decoupled_decay: bool) -> None:
    """Adam (AdamW with ``decoupled_decay``) over lists; t is counted per tensor, as per-tensor."""
    lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
    decay, amsgrad = group["weight_decay"], group["amsgrad"]
    for ws, gs in buckets(group):
        for w in ws:
            if not state[w]:
                state[w]["t"] = 0
                state[w]["m"] = torch.zeros_like(w)  # first moment, E[g]
                state[w]["v"] = torch.zeros_like(w)  # second moment, E[g²]
                if amsgrad:
                    state[w]["v_max"] = torch.zeros_like(w)
            state[w]["t"] += 1
        if decay and decoupled_decay:
            torch._foreach_mul_(ws, 1 - lr * decay)  # w ← w − η λ w            (AdamW)
        elif decay:
            gs = torch._foreach_add(gs, ws, alpha=decay)  # g ← g + λ w          (Adam: L2)
        m = [state[w]["m"] for w in ws]
        v = [state[w]["v"] for w in ws]
        torch._foreach_lerp_(m, gs, 1 - beta1)  # m ← β1 m + (1−β1) g
        torch._foreach_mul_(v, beta2)  # v ← β2 v
        torch._foreach_addcmul_(v, gs, gs, value=1 - beta2)  # v ← β2 v + (1−β2) g²
        if amsgrad:
            v_max = [state[w]["v_max"] for w in ws]
            torch._foreach_maximum_(v_max, v)  # v ← max(v_max, v)
            v = v_max
        t = [state[w]["t"] for w in ws]
        # The bias corrections are scalars per tensor: folded into η and √v's divisor.
        step_sizes = [-lr / (1 - beta1**k) for k in t]  # −η / (1−β1^t)
        denom = torch._foreach_sqrt(v)  # √v
        torch._foreach_div_(denom, [math.sqrt(1 - beta2**k) for k in t])  # √v̂ = √v / √(1−β2^t)
        torch._foreach_add_(denom, eps)  # √v̂ + ε
        torch._foreach_addcdiv_(ws, m, denom, step_sizes)  # w ← w − η m̂ / (√v̂ + ε)
