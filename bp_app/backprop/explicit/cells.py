"""One direction of a recurrent layer, forward and back propagation through time, by hand.

Padded batches: m_t = 1[t < length] per sequence. A padded step keeps the state and outputs 0,
h_t = m_t h̃_t + (1 − m_t) h_{t−1}, so the final state is the one after each sequence's own last
step (what packed sequences give) and a padded step neither receives nor passes a gradient.

    RNN    h̃_t = tanh(W x_t + b_i + U h_{t−1} + b_h)
           δ_t = ∂L/∂h̃_t ⊙ (1 − h̃_t²),   ∂L/∂h_{t−1} = Uᵀ δ_t
    LSTM   i, f, o = σ(·), g = tanh(·) of W x_t + U h_{t−1} + b;  c̃ = f c + i g,  h̃ = o tanh(c̃)
           ∂L/∂c̃ = ∂L/∂c_t + ∂L/∂h̃ ⊙ o ⊙ (1 − tanh² c̃),   ∂L/∂c_{t−1} = ∂L/∂c̃ ⊙ f
           δ_i = ∂L/∂c̃ ⊙ g ⊙ i(1−i),  δ_f = ∂L/∂c̃ ⊙ c ⊙ f(1−f),  δ_g = ∂L/∂c̃ ⊙ i ⊙ (1−g²),
           δ_o = ∂L/∂h̃ ⊙ tanh c̃ ⊙ o(1−o)
    GRU    r, z = σ(·), n = tanh(W_n x + b_in + r ⊙ (U_n h + b_hn)),  h̃ = (1 − z) n + z h
    all    ∂L/∂W = Σ_t δ_t x_tᵀ,  ∂L/∂U = Σ_t δ_t h_{t−1}ᵀ,  ∂L/∂x_t = Wᵀ δ_t

Truncated BPTT (``bptt_steps`` = k): the gradient reaching a step more than k steps before its
sequence's last step is dropped, so only the last k steps learn from the loss.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


@dataclass
class Direction:
    """The weights of one layer and direction, and what its forward kept for the backward."""

    mode: str  # RNN_TANH | RNN_RELU | LSTM | GRU (nn.RNNBase.mode)
    w_ih: Tensor
    w_hh: Tensor
    b_ih: Tensor | None
    b_hh: Tensor | None
    x: Tensor | None = None  # (B, T, D) the input it read
    mask: Tensor | None = None  # (B, T, 1) bool, None when no step is padded
    steps: list[tuple[Tensor, ...]] = field(default_factory=list)  # per t, what δ_t needs


def forward(d: Direction, x: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
    """Outputs y (B, T, H) (0 on padded steps) and the final state h (B, H)."""
    d.x, d.mask = x, mask
    batch, steps, _ = x.shape
    hidden = d.w_hh.shape[1]
    xw = F.linear(x, d.w_ih, d.b_ih)  # W x_t + b_i for every t in one product  (B, T, G·H)
    h = x.new_zeros(batch, hidden)
    c = x.new_zeros(batch, hidden) if d.mode == "LSTM" else None
    outputs = []
    for t in range(steps):
        hw = F.linear(h, d.w_hh, d.b_hh)  # U h_{t−1} + b_h   (B, G·H)
        if d.mode == "LSTM":
            i, f, g, o = (xw[:, t] + hw).chunk(4, 1)
            i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
            c_new = f * c + i * g  # c̃ = f c + i g
            tanh_c = torch.tanh(c_new)
            h_new = o * tanh_c  # h̃ = o tanh(c̃)
            d.steps.append((h, c, i, f, g, o, tanh_c))
        elif d.mode == "GRU":
            xr, xz, xn = xw[:, t].chunk(3, 1)
            hr, hz, hn = hw.chunk(3, 1)
            r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
            n = torch.tanh(xn + r * hn)  # n = tanh(W_n x + b_in + r ⊙ (U_n h + b_hn))
            h_new = n + z * (h - n)  # h̃ = (1 − z) n + z h
            d.steps.append((h, r, z, n, hn))
        else:
            pre = xw[:, t] + hw
            h_new = torch.tanh(pre) if d.mode == "RNN_TANH" else torch.relu(pre)
            d.steps.append((h, h_new))
        if mask is not None:
            m = mask[:, t]  # (B, 1): a real step?
            h_new = torch.where(m, h_new, h)  # padded: keep h_{t−1}
            if c is not None:
                c_new = torch.where(m, c_new, c)
            outputs.append(torch.where(m, h_new, 0.0))
        else:
            outputs.append(h_new)
        h = h_new
        if c is not None:
            c = c_new
    return torch.stack(outputs, 1), h  # (B, T, H), (B, H)


def backward(
    d: Direction,
    g_y: Tensor | None,
    g_h: Tensor | None,
    keep: Tensor | None,
    need_input: bool,
    watch: bool = False,
) -> tuple[dict[Tensor, Tensor], Tensor | None, Tensor | None]:
    """({param: grad}, ∂L/∂x (B, T, D) or None, ‖∂L/∂h_t‖² per sequence and step or None).

    g_y: ∂L/∂y_t (B, T, H) from the layer above (None: unused); g_h: ∂L/∂h_T (B, H).
    keep: (B, T, 1) bool, the steps truncated BPTT lets learn (None: all).
    """
    x, mask = d.x, d.mask
    batch, steps, _ = x.shape
    hidden = d.w_hh.shape[1]
    gh = g_h if g_h is not None else x.new_zeros(batch, hidden)
    gc = x.new_zeros(batch, hidden) if d.mode == "LSTM" else None
    deltas_x: list[Tensor] = [None] * steps  # ∂L/∂(W x_t + b_i)
    deltas_h: list[Tensor] = [None] * steps  # ∂L/∂(U h_{t−1} + b_h)
    arriving: list[Tensor] = [None] * steps if watch else []
    for t in range(steps - 1, -1, -1):
        g = gh if g_y is None else gh + g_y[:, t]  # ∂L/∂h̃_t before masks
        m = None if mask is None else mask[:, t]
        if keep is not None:
            k = keep[:, t]
            g = torch.where(k, g, 0.0)
            gh = torch.where(k, gh, 0.0)
            if gc is not None:
                gc = torch.where(k, gc, 0.0)
        if m is not None:
            g = torch.where(m, g, 0.0)  # a padded step's h̃ reaches nothing
        if watch:
            arriving[t] = g.pow(2).sum(1)  # ‖∂L/∂h_t‖² per sequence  (B,)
        saved = d.steps[t]
        if d.mode == "LSTM":
            h_prev, c_prev, i, f, gg, o, tanh_c = saved
            gc_here = gc if m is None else torch.where(m, gc, 0.0)
            gc_new = gc_here + g * o * (1 - tanh_c * tanh_c)  # ∂L/∂c̃
            delta = torch.cat(
                (
                    gc_new * gg * i * (1 - i),  # δ_i
                    gc_new * c_prev * f * (1 - f),  # δ_f
                    gc_new * i * (1 - gg * gg),  # δ_g
                    g * tanh_c * o * (1 - o),  # δ_o
                ),
                1,
            )
            delta_h = delta
            carry_c = gc_new * f  # ∂L/∂c_{t−1} through c̃
            gc = carry_c if m is None else torch.where(m, carry_c, gc)
            direct = None
        elif d.mode == "GRU":
            h_prev, r, z, n, hn = saved
            dn = g * (1 - z) * (1 - n * n)  # ∂L/∂(pre-tanh of n)
            dz = g * (h_prev - n) * z * (1 - z)
            dr = dn * hn * r * (1 - r)
            delta = torch.cat((dr, dz, dn), 1)  # ∂L/∂(W x + b_i): r, z, n parts
            delta_h = torch.cat((dr, dz, dn * r), 1)  # ∂L/∂(U h + b_h): n's part is gated by r
            direct = g * z  # h̃ = … + z h: the path that skips the weights
        else:
            h_prev, h_new = saved
            if d.mode == "RNN_TANH":
                delta = torch.ops.aten.tanh_backward(g, h_new)  # δ_t = g ⊙ (1 − h̃²)
            else:
                delta = torch.ops.aten.threshold_backward(g, h_new, 0.0)  # δ_t = g ⊙ 1[h̃ > 0]
            delta_h, direct = delta, None
        deltas_x[t], deltas_h[t] = delta, delta_h
        back = delta_h @ d.w_hh  # ∂L/∂h_{t−1} = Uᵀ δ_t
        if direct is not None:
            back = back + direct
        gh = back if m is None else torch.where(m, back, gh)  # padded: pass g on unchanged
    dx = torch.stack(deltas_x, 1)  # (B, T, G·H)
    dh = torch.stack(deltas_h, 1)
    h_prev = torch.stack([s[0] for s in d.steps], 1)  # (B, T, H): h_{t−1} for every t
    flat = dx.reshape(-1, dx.shape[-1])
    flat_h = dh.reshape(-1, dh.shape[-1])
    grads = {
        d.w_ih: flat.T @ x.reshape(-1, x.shape[-1]),  # ∂L/∂W = Σ_t δ_t x_tᵀ
        d.w_hh: flat_h.T @ h_prev.reshape(-1, hidden),  # ∂L/∂U = Σ_t δ_t h_{t−1}ᵀ
    }
    if d.b_ih is not None:
        grads[d.b_ih] = flat.sum(0)  # ∂L/∂b_i = Σ_t δ_t
        grads[d.b_hh] = flat_h.sum(0)
    grad_x = dx @ d.w_ih if need_input else None  # ∂L/∂x_t = Wᵀ δ_t   (B, T, D)
    norms = torch.stack(arriving, 1) if watch else None  # (B, T)
    return grads, grad_x, norms
