"""Each hand-derived layer against autograd in float64 over random shapes (within 1e-10
relative) and against finite differences (torch.autograd.gradcheck on the layer as a Function)."""

from __future__ import annotations

import copy
import random

import pytest
import torch
from torch import Tensor, nn

from bp_app.backprop.explicit import conv, dense, recurrent
from bp_app.backprop.explicit.tape import Tape

SEEDS = range(4)


def explicit(op, module, x, g):
    """(output, {param: ∂L/∂θ}, ∂L/∂x) by the op's hand-derived backward, for L = Σ g ⊙ y."""
    tape = Tape()
    with torch.no_grad():
        y = op(tape, module, x)
        grads, grad_x = tape.backward_to_input(g)
    return y, grads, grad_x


def assert_matches_autograd(op, module, x, reference=None, differentiable_input=True):
    """The op's output and gradients equal autograd's through ``reference`` (default module)."""
    module = module.double()
    reference_module = copy.deepcopy(module)  # its own buffers: running stats update once each
    x_ref = x.detach().clone().requires_grad_(differentiable_input)
    y_ref = (reference or reference_module)(x_ref)
    g = torch.randn_like(y_ref)
    params = [p for p in reference_module.parameters()]
    wrt = [x_ref, *params] if differentiable_input else params
    auto = torch.autograd.grad(y_ref, wrt, g, allow_unused=True)
    y, grads, grad_x = explicit(op, module, x, g)
    torch.testing.assert_close(y, y_ref.detach(), rtol=1e-12, atol=1e-12)
    pairs = list(zip(module.parameters(), auto[-len(params) :] if params else [], strict=True))
    if differentiable_input:
        pairs.append((grad_x, auto[0]))
    for mine, ref in pairs:
        mine = grads.get(mine, torch.zeros_like(mine)) if isinstance(mine, nn.Parameter) else mine
        ref = torch.zeros_like(mine) if ref is None else ref
        assert (mine - ref).norm() <= 1e-10 * ref.norm() + 1e-300
    for (name, mine), ref in zip(module.named_buffers(), reference_module.buffers(), strict=True):
        torch.testing.assert_close(mine, ref, rtol=1e-14, atol=0, msg=name)  # running stats
    return grads, grad_x


@pytest.mark.parametrize("seed", SEEDS)
def test_conv2d(seed):
    rng = random.Random(seed)
    torch.manual_seed(seed)
    k, stride = rng.randint(1, 4), rng.randint(1, 3)
    padding = rng.choice([0, k // 2, k - 1, "valid"] + (["same"] if k % 2 else []))
    if padding == "same":
        stride = 1
    layer = nn.Conv2d(
        rng.randint(1, 3), rng.randint(1, 3), k, stride, padding, bias=rng.random() < 0.7
    )
    x = torch.randn(rng.randint(1, 3), layer.in_channels, rng.randint(k, 9), rng.randint(k, 9))
    assert_matches_autograd(conv.conv2d, layer, x.double())


@pytest.mark.parametrize("seed", SEEDS)
def test_max_pool2d(seed):
    rng = random.Random(seed)
    torch.manual_seed(seed)
    k = rng.randint(1, 3)
    pool = nn.MaxPool2d(
        k, rng.choice([None, 1, 2]), rng.randint(0, k // 2), ceil_mode=seed % 2 == 1
    )
    x = torch.randn(rng.randint(1, 3), rng.randint(1, 3), rng.randint(k, 8), rng.randint(k, 8))
    assert_matches_autograd(conv.max_pool2d, pool, x.double())


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 6), (3, 2, 4, 5)], ids=["1d", "1d_seq", "2d"])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_batch_norm(seed, shape, training):
    rng = random.Random(seed)
    torch.manual_seed(seed)
    kind = nn.BatchNorm2d if len(shape) == 4 else nn.BatchNorm1d
    bn = kind(shape[1], momentum=rng.choice([0.1, 0.3, None]), affine=rng.random() < 0.8,
              track_running_stats=rng.random() < 0.8)  # fmt: skip
    if bn.affine:
        nn.init.normal_(bn.weight)
        nn.init.normal_(bn.bias)
    if bn.running_mean is not None:
        bn.running_mean.normal_()
        bn.running_var.uniform_(0.5, 2.0)
    bn.train(training)
    x = torch.randn(shape) * 2 + 1
    for _ in range(2):  # twice: the running statistics compound as torch's do
        assert_matches_autograd(conv.batch_norm, bn, x.double())


@pytest.mark.parametrize("seed", SEEDS)
def test_dense_layers(seed):
    rng = random.Random(seed)
    torch.manual_seed(seed)
    x = torch.randn(rng.randint(1, 4), rng.randint(1, 3), rng.randint(1, 6), dtype=torch.float64)
    assert_matches_autograd(dense.linear, nn.Linear(x.shape[-1], rng.randint(1, 5)), x)
    for module in (nn.ReLU(), nn.Tanh(), nn.Sigmoid(), nn.LeakyReLU(0.1), nn.Flatten()):
        assert_matches_autograd(dense.activation if not isinstance(module, nn.Flatten)
                                else dense.flatten, module, x)  # fmt: skip
    drop = nn.Dropout(0.4)
    torch.manual_seed(seed)
    mine = explicit(dense.dropout, drop, x, torch.ones_like(x))
    torch.manual_seed(seed)
    assert torch.equal(mine[0], drop(x))  # the same draws as nn.Dropout
    assert torch.equal(mine[2], (mine[0] != 0).double() / 0.6)  # ∂L/∂x = m


def token_batch(rng: random.Random, vocab: int = 9) -> tuple[Tensor, Tensor]:
    """Padded ids with lengths from 1 up, or all equal; <pad> = 0."""
    batch, steps = rng.randint(1, 4), rng.randint(1, 6)
    if rng.random() < 0.3:
        lengths = torch.full((batch,), steps)
    else:
        lengths = torch.tensor([rng.randint(1, steps) for _ in range(batch)])
        lengths[0] = 1
    ids = torch.randint(1, vocab, (batch, steps))
    ids[torch.arange(steps)[None, :] >= lengths[:, None]] = 0
    return ids, lengths


@pytest.mark.parametrize("seed", SEEDS)
def test_embedding_and_masked_mean(seed):
    rng = random.Random(seed)
    torch.manual_seed(seed)
    ids, lengths = token_batch(rng)
    emb = nn.Embedding(9, 4, padding_idx=rng.choice([0, None]))
    grads, _ = assert_matches_autograd(recurrent.embedding, emb, ids, differentiable_input=False)
    if emb.padding_idx is not None:
        assert torch.equal(grads[emb.weight][0], torch.zeros(4, dtype=torch.float64))
    e = torch.randn(*ids.shape, 4, dtype=torch.float64)

    def reference(x):
        return x.sum(1) / lengths.clamp(min=1).unsqueeze(1)

    def op(tape, module, x):
        return recurrent.masked_mean(tape, x, lengths)

    assert_matches_autograd(op, nn.Identity(), e, reference=reference)


class Packed(nn.Module):
    """The models' reference: the nn module over packed sequences, top layer's final state."""

    def __init__(self, rnn: nn.RNNBase, lengths: Tensor) -> None:
        super().__init__()
        self.rnn, self.lengths = rnn, lengths

    def forward(self, x: Tensor) -> Tensor:
        packed = nn.utils.rnn.pack_padded_sequence(x, self.lengths, True, enforce_sorted=False)
        h = self.rnn(packed)[1]
        h = h[0] if isinstance(h, tuple) else h
        h = h.view(self.rnn.num_layers, -1, x.shape[0], self.rnn.hidden_size)[-1]
        return h.transpose(0, 1).reshape(x.shape[0], -1)


CELLS = {"rnn": nn.RNN, "rnn_relu": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def random_recurrent(seed: int, cell: str) -> tuple[nn.RNNBase, Tensor, Tensor]:
    rng = random.Random(seed)
    torch.manual_seed(seed)
    _, lengths = token_batch(rng)
    extra = {"nonlinearity": "relu"} if cell == "rnn_relu" else {}
    rnn = CELLS[cell](rng.randint(1, 3), rng.randint(1, 4), num_layers=rng.randint(1, 2),
                      bias=rng.random() < 0.8, batch_first=True,
                      bidirectional=rng.random() < 0.5, **extra).double()  # fmt: skip
    x = torch.randn(len(lengths), int(lengths.max()) + rng.randint(0, 2), rnn.input_size)
    x[torch.arange(x.shape[1])[None, :] >= lengths[:, None]] = 0
    return rnn, x.double(), lengths


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("cell", list(CELLS))
def test_recurrent_layers_over_padded_batches(seed, cell):
    rnn, x, lengths = random_recurrent(seed, cell)

    def op(tape, module, x):
        return recurrent.recurrent(tape, module.rnn, x, lengths, None)

    _, grad_x = assert_matches_autograd(op, Packed(rnn, lengths), x)
    padded = torch.arange(x.shape[1])[None, :] >= lengths[:, None]
    assert torch.equal(grad_x[padded], torch.zeros_like(grad_x[padded]))  # exactly zero


def truncated_reference(rnn: nn.RNNBase, x: Tensor, lengths: Tensor, k: int) -> Tensor:
    """A one-layer RNN / LSTM by autograd, its state detached entering step n − k of each row."""
    h = x.new_zeros(x.shape[0], rnn.hidden_size)
    c = torch.zeros_like(h)
    for t in range(x.shape[1]):
        cut = (t == lengths - k).unsqueeze(1)
        h, c = torch.where(cut, h.detach(), h), torch.where(cut, c.detach(), c)
        gates = (
            x[:, t] @ rnn.weight_ih_l0.T + rnn.bias_ih_l0 + h @ rnn.weight_hh_l0.T + rnn.bias_hh_l0
        )
        if isinstance(rnn, nn.LSTM):
            i, f, g, o = gates.chunk(4, 1)
            c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h_new = torch.sigmoid(o) * torch.tanh(c_new)
        else:
            h_new, c_new = torch.tanh(gates), c
        real = (t < lengths).unsqueeze(1)
        h, c = torch.where(real, h_new, h), torch.where(real, c_new, c)
    return h


@pytest.mark.parametrize("cell", [nn.RNN, nn.LSTM])
def test_truncated_bptt_equals_autograd_with_the_state_detached(cell):
    torch.manual_seed(5)
    rnn = cell(2, 3, batch_first=True).double()
    lengths = torch.tensor([6, 3, 1, 6])
    x = torch.randn(4, 6, 2, dtype=torch.float64)
    for k in (1, 2, 6):
        g = torch.randn(4, 3, dtype=torch.float64)
        params = list(rnn.parameters())
        ref = torch.autograd.grad(truncated_reference(rnn, x, lengths, k), params, g)
        tape = Tape()
        with torch.no_grad():
            recurrent.recurrent(tape, rnn, x, lengths, k)
            grads = tape.backward(g)
        for p, r in zip(params, ref, strict=True):
            assert (grads[p] - r).norm() <= 1e-10 * r.norm()


class LayerFunction(torch.autograd.Function):
    """A hand-derived layer as an autograd Function, for gradcheck's finite differences."""

    @staticmethod
    def forward(ctx, op, module, x, *params):
        tape = Tape()
        y = op(tape, module, x)
        ctx.tape, ctx.params = tape, params
        return y

    @staticmethod
    def backward(ctx, g):
        grads, grad_x = ctx.tape.backward_to_input(g)
        return (None, None, grad_x, *[grads.get(p, torch.zeros_like(p)) for p in ctx.params])


def gradcheck_cases():
    torch.manual_seed(0)
    rnn_lengths = torch.tensor([3, 1, 3])
    for name, cell in (("rnn", nn.RNN), ("lstm", nn.LSTM), ("gru", nn.GRU)):
        rnn = cell(2, 2, batch_first=True, bidirectional=name == "gru").double()
        yield name, lambda t, m, x: recurrent.recurrent(t, m, x, rnn_lengths, None), rnn, (3, 3, 2)
    yield "conv2d", conv.conv2d, nn.Conv2d(2, 2, 3, 2, 1).double(), (2, 2, 5, 5)
    yield "max_pool2d", conv.max_pool2d, nn.MaxPool2d(2, 1), (1, 2, 4, 4)
    yield "batch_norm2d", conv.batch_norm, nn.BatchNorm2d(2).double(), (3, 2, 2, 2)
    yield "batch_norm1d_eval", conv.batch_norm, nn.BatchNorm1d(3).double().eval(), (4, 3)
    yield "linear", dense.linear, nn.Linear(3, 2).double(), (2, 3)
    yield "tanh", dense.activation, nn.Tanh(), (2, 3)


@pytest.mark.parametrize("name, op, module, shape", list(gradcheck_cases()),
                         ids=[c[0] for c in gradcheck_cases()])  # fmt: skip
def test_gradcheck(name, op, module, shape):
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    params = list(module.parameters())
    assert torch.autograd.gradcheck(
        lambda x, *p: LayerFunction.apply(op, module, x, *p), (x, *params)
    )


def test_gradcheck_embedding():
    """No padding row here: torch's padding_idx (zero gradient for <pad>) is a rule, not the
    derivative, and is checked against autograd above."""
    ids = torch.tensor([[1, 2, 0], [3, 3, 1]])
    emb = nn.Embedding(4, 2).double()
    assert torch.autograd.gradcheck(
        lambda w: LayerFunction.apply(recurrent.embedding, emb, ids, w), (emb.weight,)
    )
