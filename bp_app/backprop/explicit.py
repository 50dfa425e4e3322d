"""The MLP's backward pass derived by hand, layer by layer, from values cached in the forward pass.

The lecture's equations, for layers l = 1..L with a_0 = x and a batch of N rows:

    forward     z_l = W_l a_{l-1} + b_l,    a_l = σ(z_l)        (z_L: the network's output)
    output      δ_L = ∂L/∂z_L                                    (depends on the loss, below)
    propagate   δ_l = (W_{l+1}ᵀ δ_{l+1}) ⊙ σ'(z_l)
    gradients   ∂L/∂W_l = δ_l a_{l-1}ᵀ,   ∂L/∂b_l = Σ_batch δ_l

Rows are examples here, so W_l a_{l-1} is computed as ``a_prev @ W.T`` (``F.linear``) and
δ_l a_{l-1}ᵀ as ``delta.T @ a_prev``. Every σ' is computed from a_l = σ(z_l) alone, so the forward
pass keeps one tensor per layer. The backward functions use no autograd (``model.backprop=explicit``
runs all of this under ``torch.no_grad()``); tests/test_explicit_backprop.py checks them against
autograd and against finite differences.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bp_app.optim.regularization import Regularization

LOSSES = ("cross_entropy", "mse", "bce")


@dataclass
class ForwardCache:
    """What the backward pass needs from the forward pass."""

    inputs: list[Tensor] = field(default_factory=list)  # a_{l-1}, the input of layer l
    activations: list[Tensor] = field(default_factory=list)  # σ(z_l) of each hidden layer
    masks: list[Tensor | None] = field(default_factory=list)  # dropout's m_l / (1 − p), or None


# ------------------------------------------------------------------ forward
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
        mask = None
        if dropping:
            # m ~ Bernoulli(1 − p) / (1 − p): the same random draws nn.Dropout makes on a_l.
            mask = F.dropout(torch.ones_like(a), net.dropout.p)
            a = a * mask  # ã_l = m ⊙ a_l
        cache.masks.append(mask)
    cache.inputs.append(a)
    return F.linear(a, last.weight, last.bias), cache  # z_L   (N, n_L)


# ------------------------------------------------------------------ output error δ_L
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


# ------------------------------------------------------------------ through σ: δ = g ⊙ σ'(z)
# Each line below is one fused kernel (torch's own elementwise backward kernels, which compute
# exactly the formula in the comment); written as separate multiplies they take 3 to 8 times
# longer on a CPU. σ' is written with a = σ(z), so the forward pass need not keep z.
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


# ------------------------------------------------------------------ backward
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
    if regularizer is not None and regularizer.active:
        for p in regularizer.penalized(module):
            grads[p] = grads[p] + penalty_gradient(regularizer, p)  # ∂J/∂w = ∂L/∂w + ∂Ω/∂w
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
