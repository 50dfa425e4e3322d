"""Convolution, max pooling and batch norm by hand.

Convolution as a matrix product of patches (im2col): unfold the input into P = (C·k·k, L)
columns, one per output position, then

    forward     Z = W P + b                       W: (C_out, C·k·k), Z: (C_out, L)
    weights     ∂L/∂W = Σ_batch δ Pᵀ               δ = ∂L/∂Z, correlated with the input patches
    input       ∂L/∂P = Wᵀ δ, folded back (col2im: overlapping patches add up), which is the
                full convolution of δ with the flipped kernel

Max pooling routes each window's gradient to the position that won it (its arg-max).
Batch norm with x̂ = (x − μ) / √(σ² + ε), y = γ x̂ + β over the batch B of n values per channel:

    ∂L/∂x = (γ / (n √(σ² + ε))) (n g − Σ_B g − x̂ Σ_B g x̂)      g = ∂L/∂y   (training)
    ∂L/∂x = γ g / √(σ²_run + ε)                                                (eval)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bp_app.backprop.explicit.tape import Tape, add_grad


def pair(value: int | tuple[int, ...]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[-1]))


def conv_padding(conv: nn.Conv2d) -> tuple[int, int]:
    """The symmetric zero padding of a conv: a number or pair, 'valid', or 'same' (odd kernels)."""
    if conv.padding == "valid":
        return (0, 0)
    if conv.padding == "same":
        return (conv.kernel_size[0] // 2, conv.kernel_size[1] // 2)
    return pair(conv.padding)


def conv_unsupported(conv: nn.Conv2d) -> str | None:
    """Why this conv has no hand-derived backward here, or None."""
    if conv.groups != 1 or pair(conv.dilation) != (1, 1):
        return "groups and dilation must be 1"
    if conv.padding_mode != "zeros":
        return "padding_mode must be 'zeros'"
    if conv.padding == "same" and any(k % 2 == 0 for k in conv.kernel_size):
        return "padding='same' needs odd kernels"
    return None


# ------------------------------------------------------------------ Conv2d
def conv2d(tape: Tape, conv: nn.Conv2d, x: Tensor) -> Tensor:
    n, _, height, width = x.shape
    k, s, p = pair(conv.kernel_size), pair(conv.stride), conv_padding(conv)
    out_h = (height + 2 * p[0] - k[0]) // s[0] + 1  # ⌊(H + 2p − k) / s⌋ + 1
    out_w = (width + 2 * p[1] - k[1]) // s[1] + 1
    patches = F.unfold(x, k, padding=p, stride=s)  # P: (N, C·kh·kw, L), L = out_h·out_w
    w = conv.weight.reshape(conv.out_channels, -1)  # W: (C_out, C·kh·kw)
    z = w @ patches  # Z = W P   (N, C_out, L)
    if conv.bias is not None:
        z = z + conv.bias[:, None]  # + b_c
    tape.record(conv2d_backward, conv, patches, (height, width), k, s, p)
    return z.reshape(n, conv.out_channels, out_h, out_w)  # (N, C_out, H', W')


def conv2d_backward(g, grads, need_input, conv, patches, size, k, s, p) -> Tensor | None:
    delta = g.reshape(g.shape[0], conv.out_channels, -1)  # δ: (N, C_out, L)
    grad_w = (delta @ patches.transpose(1, 2)).sum(0)  # ∂L/∂W = Σ_batch δ Pᵀ
    add_grad(grads, conv.weight, grad_w.reshape(conv.weight.shape))
    if conv.bias is not None:
        add_grad(grads, conv.bias, delta.sum((0, 2)))  # ∂L/∂b_c = Σ_{batch, positions} δ_c
    if not need_input:
        return None
    w = conv.weight.reshape(conv.out_channels, -1)
    grad_patches = w.T @ delta  # ∂L/∂P = Wᵀ δ   (N, C·kh·kw, L)
    return F.fold(grad_patches, size, k, padding=p, stride=s)  # col2im: overlaps add up


# ------------------------------------------------------------------ MaxPool2d
def pool_unsupported(pool: nn.MaxPool2d) -> str | None:
    if pair(pool.dilation) != (1, 1) or pool.return_indices:
        return "dilation must be 1, no return_indices"
    return None


def max_pool2d(tape: Tape, pool: nn.MaxPool2d, x: Tensor) -> Tensor:
    stride = pool.stride if pool.stride is not None else pool.kernel_size
    y, argmax = F.max_pool2d(
        x, pool.kernel_size, stride, pool.padding, ceil_mode=pool.ceil_mode, return_indices=True
    )  # y: (N, C, H', W'); argmax: the flat index h·W + w of each window's winner
    tape.record(max_pool2d_backward, x.shape, argmax)
    return y


def max_pool2d_backward(g, grads, need_input, shape, argmax) -> Tensor | None:
    if not need_input:
        return None
    n, c, height, width = shape
    # ∂L/∂x_j = Σ over the windows whose arg-max is j of ∂L/∂y_window; every other x gets 0.
    grad = g.new_zeros(n, c, height * width)
    grad.scatter_add_(2, argmax.flatten(2), g.flatten(2))
    return grad.reshape(shape)


# ------------------------------------------------------------------ BatchNorm1d / 2d
# Written with sums and fused multiply-adds (addcmul): a var() reduction over (N, H, W) or a
# chain of separate multiplies each cost a pass over the activations.
def batch_norm(tape: Tape, bn: nn.modules.batchnorm._BatchNorm, x: Tensor) -> Tensor:
    dims = [0, *range(2, x.ndim)]  # every axis but the channel: (N,), (N, L) or (N, H, W)
    shape = [1, -1] + [1] * (x.ndim - 2)  # a per-channel vector broadcast over x
    n = x.numel() // x.shape[1]  # values per channel
    batch_stats = bn.training or bn.running_mean is None
    if batch_stats:
        mean = x.sum(dims, keepdim=True) / n  # μ_c
        centered = x - mean
        var = (centered * centered).sum(dims, keepdim=True) / n  # σ²_c, biased: what normalizes
        if bn.training and bn.running_mean is not None:
            update_running_stats(bn, mean, var, n)
    else:
        mean, var = bn.running_mean.reshape(shape), bn.running_var.reshape(shape)
        centered = x - mean
    inv_std = torch.rsqrt(var + bn.eps)  # 1 / √(σ² + ε)
    x_hat = centered * inv_std  # x̂
    y = x_hat
    if bn.weight is not None:
        y = torch.addcmul(bn.bias.reshape(shape), x_hat, bn.weight.reshape(shape))  # γ x̂ + β
    tape.record(batch_norm_backward, bn, x_hat, inv_std, batch_stats, dims, shape)
    return y


@torch.no_grad()
def update_running_stats(bn: nn.Module, mean: Tensor, var: Tensor, n: int) -> None:
    """As torch does: r ← (1 − m) r + m s, with the unbiased σ² · n / (n − 1) for the variance;
    momentum None means the cumulative mean, m = 1 / (batches seen)."""
    bn.num_batches_tracked.add_(1)
    m = bn.momentum if bn.momentum is not None else 1.0 / float(bn.num_batches_tracked)
    bn.running_mean.mul_(1 - m).add_(mean.flatten().to(bn.running_mean.dtype), alpha=m)
    unbiased = var.flatten().to(bn.running_var.dtype) * (n / max(n - 1, 1))
    bn.running_var.mul_(1 - m).add_(unbiased, alpha=m)


def batch_norm_backward(g, grads, need_input, bn, x_hat, inv_std, batch_stats, dims, shape):
    sum_g = g.sum(dims, keepdim=True)  # Σ_B g
    sum_gx = (g * x_hat).sum(dims, keepdim=True)  # Σ_B g x̂
    if bn.weight is not None:
        add_grad(grads, bn.weight, sum_gx.flatten())  # ∂L/∂γ = Σ_B g x̂
        add_grad(grads, bn.bias, sum_g.flatten())  # ∂L/∂β = Σ_B g
    if not need_input:
        return None
    a = inv_std if bn.weight is None else bn.weight.reshape(shape) * inv_std  # γ / √(σ²+ε)
    if not batch_stats:
        return g * a  # eval: μ, σ² are constants
    n = g.numel() // g.shape[1]
    # ∂L/∂x = (γ / (n √(σ²+ε))) (n g − Σ g − x̂ Σ g x̂) = a g − (a Σ g x̂ / n) x̂ − a Σ g / n:
    # μ and σ² depend on x too, hence the two correction terms.
    return torch.addcmul(torch.addcmul(-a * sum_g / n, x_hat, -a * sum_gx / n), g, a)


LAYERS = {
    nn.Conv2d: conv2d,
    nn.MaxPool2d: max_pool2d,
    nn.BatchNorm1d: batch_norm,
    nn.BatchNorm2d: batch_norm,
}
