"""Each network bp_app trains, forward as tape ops: the explicit program of every model.

A program takes the network and its inputs and returns (output, tape); ``tape.backward(δ_L)``
gives every parameter's gradient. ``check_supported`` runs before training, so a layer without a
hand-derived backward fails at start, named, instead of falling back to autograd.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from bp_app.backprop.explicit import conv, dense, recurrent
from bp_app.backprop.explicit.tape import Tape, unsupported

LAYERS = {**dense.LAYERS, **conv.LAYERS}


def run_layers(tape: Tape, modules, x: Tensor, mode: str = "explicit") -> Tensor:
    """A chain of layers (an nn.Sequential, or a list), each recorded on the tape."""
    for module in modules:
        op = LAYERS.get(type(module))
        if op is None:
            raise unsupported(module, type(module).__name__, mode)
        x = op(tape, module, x)
    return x


def mlp(net, x: Tensor, bptt_steps: int | None = None) -> tuple[Tensor, Tape]:
    return dense.mlp_tape(net, x)  # bp_app.models.mlp.MLP


def cnn(net, x: Tensor, bptt_steps: int | None = None) -> tuple[Tensor, Tape]:
    """bp_app.models.cnn.CNN: conv blocks, flatten, dense layers."""
    tape = Tape()
    h = run_layers(tape, net.features, x)  # (B, C_last, H', W')
    h = dense.flatten(tape, nn.Flatten(), h)  # (B, flatten_size)
    return run_layers(tape, net.classifier, h), tape  # logits (B, num_classes)


def recurrent_encoder(net, ids: Tensor, lengths: Tensor, bptt_steps: int | None = None):
    """bp_app.models.sentiment.RecurrentEncoder: embedding, RNN / LSTM / GRU, head."""
    tape = Tape()
    x = dense.dropout(tape, net.dropout, recurrent.embedding(tape, net.embedding, ids))
    n = lengths.clamp(min=1)  # an empty review still takes one step, as in the model
    last = recurrent.recurrent(tape, net.rnn, x, n, bptt_steps)  # (B, directions · H)
    last = dense.dropout(tape, net.dropout, last)
    return dense.linear(tape, net.head, last), tape  # (B, num_classes)


def bag_of_embeddings(net, ids: Tensor, lengths: Tensor, bptt_steps: int | None = None):
    """bp_app.models.sentiment.BagOfEmbeddings: the masked mean of embeddings, head."""
    tape = Tape()
    mean = recurrent.masked_mean(tape, recurrent.embedding(tape, net.embedding, ids), lengths)
    mean = dense.dropout(tape, net.dropout, mean)
    return dense.linear(tape, net.head, mean), tape


def window_net(net, x: Tensor, bptt_steps: int | None = None) -> tuple[Tensor, Tape]:
    """bp_app.models.forecaster.WindowNet: an LSTM / GRU / MLP body on the window, head."""
    tape = Tape()
    last = x[:, -1, :]  # (B, 1): x_T
    if net.residual:
        x = x - last[:, None, :]  # data, not learned: no op on the tape
    if net.cell == "mlp":
        h = run_layers(tape, net.body, x.squeeze(-1))  # (B, hidden)
    else:
        h = recurrent.recurrent(tape, net.body, x, None, bptt_steps)  # h_T of the top layer
    out = dense.linear(tape, net.head, h)  # (B, horizon)
    return (out + last if net.residual else out), tape  # ∂ŷ/∂out = 1: δ passes unchanged


# The network classes, by name (importing bp_app.models here would import this module back).
PROGRAMS: dict[str, Callable[..., tuple[Tensor, Tape]]] = {
    "MLP": mlp,
    "CNN": cnn,
    "RecurrentEncoder": recurrent_encoder,
    "BagOfEmbeddings": bag_of_embeddings,
    "WindowNet": window_net,
}
RECURRENT = ("RecurrentEncoder", "WindowNet")


def program(net: nn.Module) -> Callable[..., tuple[Tensor, Tape]]:
    return PROGRAMS[type(net).__name__]


def check_supported(net: nn.Module, mode: str) -> None:
    """Raise ConfigError naming the first layer with no hand-derived backward here."""
    if type(net).__name__ not in PROGRAMS:
        raise unsupported(net, "net", mode, "no explicit program for this network")
    checks = {
        nn.Conv2d: conv.conv_unsupported,
        nn.MaxPool2d: conv.pool_unsupported,
        nn.Embedding: recurrent.embedding_unsupported,
        nn.RNN: recurrent.recurrent_unsupported,
        nn.LSTM: recurrent.recurrent_unsupported,
        nn.GRU: recurrent.recurrent_unsupported,
    }
    known = (*LAYERS, *checks)
    for name, module in net.named_modules():
        if isinstance(module, (nn.Sequential, nn.ModuleList)) or module is net:
            continue
        if type(module) not in known:
            raise unsupported(module, f"net.{name}", mode)
        why = checks[type(module)](module) if type(module) in checks else None
        if why:
            raise unsupported(module, f"net.{name}", mode, why)
