"""Embeddings, the masked mean of a bag of words, and recurrent layers (stacked, bidirectional)
over padded batches, as tape ops. The cells and their BPTT are in ``cells.py``.

    embedding      e_{b,t} = E[w_{b,t}]            ∂L/∂E_v = Σ_{(b,t): w_{b,t} = v} ∂L/∂e_{b,t}
                   (a scatter-add of δ into the rows used; the padding row gets none)
    masked mean    ē_b = (1/n_b) Σ_t e_{b,t}        ∂L/∂e_{b,t} = ∂L/∂ē_b / n_b
    reverse        a backward direction reads x_{n−1}, …, x_0: each sequence is reversed within
                   its own length, run forward, and its outputs reversed back
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bp_app.backprop.explicit import cells
from bp_app.backprop.explicit.tape import Tape, add_grad


# ------------------------------------------------------------------ Embedding
def embedding_unsupported(emb: nn.Embedding) -> str | None:
    if emb.max_norm is not None or emb.scale_grad_by_freq or emb.sparse:
        return "max_norm, scale_grad_by_freq and sparse must be off"
    return None


def embedding(tape: Tape, emb: nn.Embedding, ids: Tensor) -> Tensor:
    tape.record(embedding_backward, emb, ids)
    return F.embedding(ids, emb.weight, emb.padding_idx)  # e = E[w]   (B, T, E)


def embedding_backward(g, grads, need_input, emb: nn.Embedding, ids: Tensor) -> None:
    grad = torch.zeros_like(emb.weight)
    grad.index_add_(0, ids.reshape(-1), g.reshape(-1, g.shape[-1]).to(grad.dtype))  # scatter-add
    if emb.padding_idx is not None:
        grad[emb.padding_idx] = 0  # <pad> is a fixed zero vector: it does not learn
    add_grad(grads, emb.weight, grad)
    return None  # token ids have no gradient


# ------------------------------------------------------------------ masked mean
def masked_mean(tape: Tape, e: Tensor, lengths: Tensor) -> Tensor:
    """ē_b = (1/n_b) Σ_t e_{b,t}; padding embeds to zero, so the sum over all T is the real one."""
    count = lengths.clamp(min=1).unsqueeze(1).to(e.dtype)  # n_b   (B, 1)
    steps = e.shape[1]
    tape.record(lambda g, grads, need, n: (g / n).unsqueeze(1).expand(-1, steps, -1), count)
    return e.sum(dim=1) / count  # (B, E)


# ------------------------------------------------------------------ RNN / LSTM / GRU layers
def recurrent_unsupported(rnn: nn.RNNBase) -> str | None:
    if getattr(rnn, "proj_size", 0) or not rnn.batch_first:
        return "proj_size must be 0 and batch_first true"
    return None


def step_mask(lengths: Tensor | None, steps: int, device: torch.device) -> Tensor | None:
    """(B, T, 1) bool: t < n_b, or None when every sequence fills all T steps."""
    if lengths is None:
        return None
    mask = torch.arange(steps, device=device)[None, :] < lengths.to(device)[:, None]
    return mask.unsqueeze(-1)


def reversal(lengths: Tensor | None, batch: int, steps: int, device: torch.device) -> Tensor:
    """Index (B, T, 1): position n_b − 1 − t for t < n_b, t itself on padding (an involution)."""
    t = torch.arange(steps, device=device)[None, :].expand(batch, -1)
    n = torch.full((batch,), steps, device=device) if lengths is None else lengths.to(device)
    return torch.where(t < n[:, None], n[:, None] - 1 - t, t).unsqueeze(-1)


def truncation(lengths: Tensor | None, batch: int, steps: int, k: int | None, device) -> Tensor:
    """(B, T, 1) bool: the last k steps of each sequence, the ones truncated BPTT trains."""
    if k is None:
        return None
    t = torch.arange(steps, device=device)[None, :]
    n = torch.full((batch, 1), steps, device=device) if lengths is None else lengths[:, None]
    return (t >= n.to(device) - k).unsqueeze(-1)


def recurrent(
    tape: Tape, rnn: nn.RNNBase, x: Tensor, lengths: Tensor | None, bptt_steps: int | None
) -> Tensor:
    """The top layer's final state, directions side by side: (B, directions · H)."""
    batch, steps, _ = x.shape
    mask = step_mask(lengths, steps, x.device)
    flip = reversal(lengths, batch, steps, x.device) if rnn.bidirectional else None
    keep = truncation(lengths, batch, steps, bptt_steps, x.device)
    layers, masks = [], []  # per layer: its directions; the dropout mask on its outputs
    inputs = x
    for layer in range(rnn.num_layers):
        directions, outputs, finals = [], [], []
        for reverse in (False, True) if rnn.bidirectional else (False,):
            suffix = f"_l{layer}{'_reverse' if reverse else ''}"
            d = cells.Direction(
                rnn.mode,
                getattr(rnn, "weight_ih" + suffix),
                getattr(rnn, "weight_hh" + suffix),
                getattr(rnn, "bias_ih" + suffix, None),
                getattr(rnn, "bias_hh" + suffix, None),
            )
            seq = gather_steps(inputs, flip) if reverse else inputs
            y, h = cells.forward(d, seq, mask)
            outputs.append(gather_steps(y, flip) if reverse else y)  # back in reading order
            finals.append(h)
            directions.append(d)
        layers.append(directions)
        inputs = torch.cat(outputs, 2)  # (B, T, directions · H)
        drop = None
        if rnn.training and rnn.dropout > 0 and layer < rnn.num_layers - 1:
            drop = F.dropout(torch.ones_like(inputs), rnn.dropout)  # between layers only
            inputs = inputs * drop
        masks.append(drop)
    tape.record(recurrent_backward, layers, masks, flip, keep, tape, lengths)
    return torch.cat(finals, 1)  # (B, directions · H)


def gather_steps(x: Tensor, index: Tensor) -> Tensor:
    return x.gather(1, index.expand(-1, -1, x.shape[-1]))


def recurrent_backward(g, grads, need_input, layers, masks, flip, keep, tape, lengths):
    """BPTT, top layer first: each direction gets ∂L/∂(its outputs) and ∂L/∂(its final state)."""
    hidden = layers[0][0].w_hh.shape[1]
    g_out = None  # ∂L/∂(this layer's outputs), from the layer above
    for index in range(len(layers) - 1, -1, -1):
        top = index == len(layers) - 1
        if masks[index] is not None:
            g_out = g_out * masks[index]  # through the dropout between layers
        grad_in = None
        for j, d in enumerate(layers[index]):
            reverse = j == 1
            g_y = None
            if g_out is not None:
                g_y = g_out[..., j * hidden : (j + 1) * hidden]
                g_y = gather_steps(g_y, flip) if reverse else g_y
            g_h = g[:, j * hidden : (j + 1) * hidden] if top else None
            watch = top and not reverse and tape.watch_time
            want = index > 0 or need_input
            layer_grads, g_x, norms = cells.backward(d, g_y, g_h, keep, want, watch)
            for param, value in layer_grads.items():
                add_grad(grads, param, value)
            if norms is not None:
                tape.records["grad_norm_t"] = norm_by_distance(norms, lengths)
            if g_x is not None:
                g_x = gather_steps(g_x, flip) if reverse else g_x
                grad_in = g_x if grad_in is None else grad_in + g_x
        g_out = grad_in
    return g_out


def norm_by_distance(squares: Tensor, lengths: Tensor | None) -> Tensor:
    """‖∂L/∂h_t‖ over the batch (T,), sequences aligned at their last step (t = T − 1 for all),
    so index t is T − 1 − t steps before the loss reads the state."""
    batch, steps = squares.shape
    if lengths is not None:
        t = torch.arange(steps, device=squares.device)[None, :]
        source = t - (steps - lengths.to(squares.device)[:, None])  # aligned t -> own step
        valid = source >= 0
        squares = torch.where(valid, squares.gather(1, source.clamp(min=0)), 0.0)
    return squares.sum(0).sqrt()
