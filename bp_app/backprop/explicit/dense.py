"""Dense layers by hand: linear, the activations, dropout, flatten; and the MLP's whole backward.

The lecture's equations, for layers l = 1..L with a_0 = x and a batch of N rows:

    forward     z_l = W_l a_{l-1} + b_l,    a_l = σ(z_l)        (z_L: the network's output)
    output      δ_L = ∂L/∂z_L                                    (losses.py)
    propagate   δ_l = (W_{l+1}ᵀ δ_{l+1}) ⊙ σ'(z_l)
    gradients   ∂L/∂W_l = δ_l a_{l-1}ᵀ,   ∂L/∂b_l = Σ_batch δ_l

Rows are examples here, so W_l a_{l-1} is computed as ``a_prev @ W.T`` (``F.linear``) and
δ_l a_{l-1}ᵀ as ``delta.T @ a_prev``. Every σ' is computed from a_l = σ(z_l) alone, so the forward
pass keeps one tensor per layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bp_app.backprop.explicit.losses import add_penalty_gradients
from bp_app.backprop.explicit.tape import Tape, add_grad
from bp_app.optim.regularization import Regularization

ACTIVATION_TYPES = (nn.Sigmoid, nn.Tanh, nn.ReLU, nn.LeakyReLU)


# ------------------------------------------------------------------ through σ: δ = g ⊙ σ'(z)
# Each line below is one fused kernel (torch's own elementwise backward kernels, which compute
# exactly the formula in the comment); written as separate multiplies they are slower on a CPU.
def activation_backward(activation: nn.Module, g: Tensor, a: Tensor) -> Tensor:
    """δ_l = g ⊙ σ'(z_l) for g = ∂L/∂a_l and a = a_l = σ(z_l)."""
    if isinstance(activation, nn.Sigmoid):
        # σ'(z) = σ(z) (1 − σ(z)):  δ = g ⊙ a (1 − a)
        return torch.ops.aten.sigmoid_backward(g, a)
    if isinstance(activation, nn.Tanh):
        # tanh'(z) = 1 − tanh²(z):  δ = g ⊙ (1 − a²)
        return torch.ops.aten.tanh_backward(g, a)
    if isinstance(activation, nn.ReLU):
        # relu'(z) = 1[z > 0] and a > 0 exactly when z > 0:  δ = g where a > 0, else 0
        return torch.ops.aten.threshold_backward(g, a, 0.0)
    if isinstance(activation, nn.LeakyReLU):
        # leaky'(z) = 1 for z > 0, else α (α > 0, so a > 0 exactly when z > 0):  δ = g or α g
        slope = activation.negative_slope
        return torch.ops.aten.leaky_relu_backward(g, a, slope, True)  # True: a is σ's output
    raise ValueError(f"no hand-derived derivative for {type(activation).__name__}")


def dropout_mask(a: Tensor, p: float) -> Tensor:
    """m ~ Bernoulli(1 − p) / (1 − p): the same random draws nn.Dropout makes on a."""
    return F.dropout(torch.ones_like(a), p)


# ------------------------------------------------------------------ one layer at a time (tape)
def linear(tape: Tape, layer: nn.Linear, a: Tensor) -> Tensor:
    z = F.linear(a, layer.weight, layer.bias)  # z = a Wᵀ + b   (..., n_out)
    tape.record(linear_backward, layer, a)
    return z


def linear_backward(g, grads, need_input, layer: nn.Linear, a: Tensor) -> Tensor | None:
    g2, a2 = g.reshape(-1, g.shape[-1]), a.reshape(-1, a.shape[-1])  # rows: every example
    add_grad(grads, layer.weight, g2.T @ a2)  # ∂L/∂W = δ aᵀ   (n_out, n_in)
    if layer.bias is not None:
        add_grad(grads, layer.bias, g2.sum(0))  # ∂L/∂b = Σ_rows δ
    return g @ layer.weight if need_input else None  # ∂L/∂a = Wᵀ δ


def activation(tape: Tape, module: nn.Module, z: Tensor) -> Tensor:
    a = module(z)  # a = σ(z)
    tape.record(lambda g, grads, need, m, a: activation_backward(m, g, a), module, a)
    return a


def dropout(tape: Tape, module: nn.Dropout, a: Tensor) -> Tensor:
    if not module.training or module.p == 0:
        return a  # eval: the identity
    mask = dropout_mask(a, module.p)
    tape.record(lambda g, grads, need, m: g * m, mask)  # ∂L/∂a = m ⊙ ∂L/∂ã
    return a * mask  # ã = m ⊙ a


def flatten(tape: Tape, module: nn.Module, x: Tensor) -> Tensor:
    start = getattr(module, "start_dim", 1)
    tape.record(lambda g, grads, need, shape: g.reshape(shape), x.shape)  # undo the reshape
    return x.flatten(start)  # (B, C, H, W) -> (B, C*H*W)


LAYERS = {
    nn.Linear: linear,
    nn.Sigmoid: activation,
    nn.Tanh: activation,
    nn.ReLU: activation,
    nn.LeakyReLU: activation,
    nn.Dropout: dropout,
    nn.Flatten: flatten,
    nn.Identity: lambda tape, module, x: x,
}


# ------------------------------------------------------------------ the MLP in one piece
# The MLP keeps its own loop (no tape): it is the lecture's first example, and bp-bench holds it
# to ≤ 1.0 × autograd, which the per-op tape's closures would cost a little of.
@dataclass
class ForwardCache:
    """What the backward pass needs from the forward pass."""

    inputs: list[Tensor] = field(default_factory=list)  # a_{l-1}, the input of layer l
    activations: list[Tensor] = field(default_factory=list)  # σ(z_l) of each hidden layer
    masks: list[Tensor | None] = field(default_factory=list)  # dropout's m_l / (1 − p), or None


def mlp_forward(net: nn.Module, x: Tensor) -> tuple[Tensor, ForwardCache]:
    """z_L for a ``bp_app.models.mlp.MLP``, caching a_{l-1} and σ(z_l) on the way up."""
    cache = ForwardCache()
    a = x.flatten(1)  # (N, C*H*W): a_0
    *hidden, last = net.layers
    dropping = net.dropout.training and net.dropout.p > 0
    for layer in hidden:
        cache.inputs.append(a)
        z = F.linear(a, layer.weight, layer.bias)  # z_l = W_l a_{l-1} + b_l   (N, n_l)
        a = net.activation(z)  # a_l = σ(z_l)
        cache.activations.append(a)
        mask = dropout_mask(a, net.dropout.p) if dropping else None
        if mask is not None:
            a = a * mask  # ã_l = m ⊙ a_l
        cache.masks.append(mask)
    cache.inputs.append(a)
    return F.linear(a, last.weight, last.bias), cache  # z_L   (N, n_L)


def mlp_backward(net: nn.Module, cache: ForwardCache, delta: Tensor) -> list[tuple[Tensor, Tensor]]:
    """(∂L/∂W_l, ∂L/∂b_l) for every layer, first to last, from δ_L and the forward cache."""
    grads: list[tuple[Tensor, Tensor]] = []
    for l in range(len(net.layers) - 1, -1, -1):  # noqa: E741  (l: the lecture's layer index)
        a_prev = cache.inputs[l]
        grad_w = delta.T @ a_prev  # ∂L/∂W_l = δ_l a_{l-1}ᵀ        (n_l, n_{l-1})
        grad_b = delta.sum(0)  # ∂L/∂b_l = Σ_batch δ_l             (n_l,)
        grads.append((grad_w, grad_b))
        if l == 0:
            break  # a_0 is the data: no δ_0 to compute
        g = delta @ net.layers[l].weight  # ∂L/∂ã_{l-1} = W_lᵀ δ_l    (N, n_{l-1})
        if cache.masks[l - 1] is not None:
            g.mul_(cache.masks[l - 1])  # through dropout: ∂L/∂a = m ⊙ ∂L/∂ã
        # δ_{l-1} = (W_lᵀ δ_l) ⊙ σ'(z_{l-1})
        delta = activation_backward(net.activation, g, cache.activations[l - 1])
    grads.reverse()
    return grads


def mlp_gradients(
    module: nn.Module,
    net: nn.Module,
    cache: ForwardCache,
    delta: Tensor,
    regularizer: Regularization | None = None,
) -> dict[Tensor, Tensor]:
    """∂J/∂θ for J = L + Ω: every parameter of ``net`` mapped to its gradient.

    ``module`` is what the regularizer was given (it decides which parameters Ω covers).
    """
    grads: dict[Tensor, Tensor] = {}
    for layer, (grad_w, grad_b) in zip(net.layers, mlp_backward(net, cache, delta), strict=True):
        grads[layer.weight] = grad_w
        grads[layer.bias] = grad_b
    return add_penalty_gradients(grads, regularizer, module)


def mlp_tape(net: nn.Module, x: Tensor) -> tuple[Tensor, Tape]:
    """The MLP's forward as one tape op, so the engine treats every network alike."""
    z, cache = mlp_forward(net, x)
    tape = Tape()

    def backward(g, grads, need_input, net, cache):
        for layer, (gw, gb) in zip(net.layers, mlp_backward(net, cache, g), strict=True):
            add_grad(grads, layer.weight, gw)
            add_grad(grads, layer.bias, gb)

    tape.record(backward, net, cache)
    return z, tape
