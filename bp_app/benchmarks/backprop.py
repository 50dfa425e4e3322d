"""The hand-derived backward against autograd, per model: time per gradient, as a ratio.

Both sides compute the same thing from the same batch: the loss and ∇θ L in every ``.grad``.
autograd runs the module's forward (recording the graph) and ``loss.backward()``; explicit runs
``bp_app.backprop.explicit`` under ``torch.no_grad()``. Repetitions alternate between the two, so
drift in the machine's load touches both; the ratio is median(explicit) / median(autograd).
Each row carries its target (issue 15): MLP 1.0, CNN 1.5, bag of embeddings 1.2, recurrent 3.0.

    python -m bp_app.benchmarks.backprop [--quick] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from bp_app.backprop.explicit import (
    accumulate_grads,
    cross_entropy,
    cross_entropy_error,
    loss_value,
    mlp_forward,
    mlp_gradients,
    output_error,
    relative_error,
)
from bp_app.backprop.explicit.networks import program
from bp_app.models.cnn import CNN
from bp_app.models.forecaster import WindowNet
from bp_app.models.mlp import MLP
from bp_app.models.sentiment import BagOfEmbeddings, RecurrentEncoder

# name -> (input size, hidden sizes, classes, activation); batch 128 for all.
MODELS: dict[str, tuple[int, list[int], int, str]] = {
    "mlp_784_128_10": (784, [128], 10, "relu"),
    "mlp_784_256x4_10": (784, [256, 256, 256, 256], 10, "relu"),
    "mlp_784_256x4_10_sigmoid": (784, [256, 256, 256, 256], 10, "sigmoid"),
}
BATCH = 128
# The other models at their default configs (conf/model/*.yaml) on their usual data's shapes:
# name -> (family, the network, its inputs, the loss, its target)
TARGETS = {"mlp": 1.0, "cnn": 1.5, "bag_of_embeddings": 1.2, "recurrent": 3.0}
VOCAB, TOKENS, TEXT_BATCH = 1000, 25, 64  # the negation corpus: vocabulary, review length


def text_batch(generator: torch.Generator) -> tuple[Tensor, Tensor]:
    lengths = torch.randint(8, TOKENS + 1, (TEXT_BATCH,), generator=generator)
    ids = torch.randint(1, VOCAB, (TEXT_BATCH, TOKENS), generator=generator)
    ids[torch.arange(TOKENS)[None, :] >= lengths[:, None]] = 0  # <pad> after each review
    return ids, lengths


def model_case(name: str, device: torch.device):
    """(family, net, inputs, target y, loss kind) for a non-MLP row."""
    g = torch.Generator().manual_seed(0)
    if name == "cnn_mnist_32c3_bn":
        net = CNN([1, 28, 28], 10, channels=[32], hidden_sizes=[128], batch_norm=True)
        inputs = (torch.randn(BATCH, 1, 28, 28, generator=g),)
        y, family, loss = torch.randint(0, 10, (BATCH,), generator=g), "cnn", "cross_entropy"
    elif name == "bag_of_embeddings":
        net, inputs = BagOfEmbeddings(VOCAB, 2, 0, 64, 0.0), text_batch(g)
        y, family, loss = torch.randint(0, 2, (TEXT_BATCH,), generator=g), name, "cross_entropy"
    elif name.startswith("sentiment_"):
        net = RecurrentEncoder(VOCAB, 2, 0, 64, 64, 1, name.split("_")[1], False, 0.0)
        inputs = text_batch(g)
        y, family, loss = (
            torch.randint(0, 2, (TEXT_BATCH,), generator=g),
            "recurrent",
            "cross_entropy",
        )
    else:  # forecaster_<cell>: the airline experiment's window net
        net = WindowNet(12, 1, name.split("_")[1], 32, 1, 0.0, True)
        inputs = (torch.randn(16, 12, 1, generator=g),)
        y, family, loss = torch.randn(16, 1, generator=g), "recurrent", "mse"
    net = net.to(device)
    return family, net, tuple(t.to(device) for t in inputs), y.to(device), loss


CASES = ("cnn_mnist_32c3_bn", "bag_of_embeddings", "sentiment_rnn", "sentiment_lstm",
         "sentiment_gru", "forecaster_lstm", "forecaster_gru")  # fmt: skip


def autograd_step(net: MLP, x: Tensor, y: Tensor) -> Tensor:
    """L and ∇θ L by torch autograd."""
    loss = F.cross_entropy(net(x), y)
    loss.backward()
    return loss


@torch.no_grad()
def explicit_step(net: MLP, x: Tensor, y: Tensor) -> Tensor:
    """L and ∇θ L by the hand-derived equations."""
    z, cache = mlp_forward(net, x)
    loss, log_p = cross_entropy(z, y)
    accumulate_grads(mlp_gradients(net, net, cache, cross_entropy_error(log_p, y)))
    return loss


def autograd_model_step(net, inputs, y, loss: str) -> Tensor:
    value = loss_value(loss, net(*inputs), y)
    value.backward()
    return value


@torch.no_grad()
def explicit_model_step(net, inputs, y, loss: str) -> Tensor:
    out, tape = program(net)(net, *inputs)
    accumulate_grads(tape.backward(output_error(loss, out, y)))
    return loss_value(loss, out, y)


def time_per_call(step: Callable[[], Tensor], net, calls: int, device: torch.device) -> float:
    """Seconds per call, averaged over ``calls`` calls, gradients reset as the mixin does."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(calls):
        net.zero_grad(set_to_none=True)
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - start) / calls


def measure(name: str, quick: bool, device: torch.device) -> dict[str, float]:
    """Median time of each side over interleaved repetitions, and their ratio."""
    torch.manual_seed(0)
    if name in MODELS:
        in_features, hidden, classes, activation = MODELS[name]
        net = MLP(in_features, hidden, classes, activation).to(device)
        x = torch.randn(BATCH, in_features, device=device)
        y = torch.randint(0, classes, (BATCH,), device=device)
        family = "mlp"
        sides = {
            "autograd": lambda: autograd_step(net, x, y),
            "explicit": lambda: explicit_step(net, x, y),
        }
    else:
        family, net, inputs, y, loss = model_case(name, device)
        sides = {
            "autograd": lambda: autograd_model_step(net, inputs, y, loss),
            "explicit": lambda: explicit_model_step(net, inputs, y, loss),
        }
    # The two sides must agree before their speed means anything.
    grads = {}
    for side, step in sides.items():
        net.zero_grad(set_to_none=True)
        step()
        grads[side] = {p: p.grad.clone() for p in net.parameters()}
    error = float(relative_error(grads["explicit"], grads["autograd"]))
    repetitions, calls = (5, 10) if quick else (15, 40)
    times: dict[str, list[float]] = {side: [] for side in sides}
    for step in sides.values():  # warm-up: allocator, thread pool, kernels
        time_per_call(step, net, calls, device)
    for r in range(repetitions):
        order = list(sides) if r % 2 == 0 else list(reversed(sides))
        for side in order:
            times[side].append(time_per_call(sides[side], net, calls, device))
    autograd_ms = statistics.median(times["autograd"]) * 1e3
    explicit_ms = statistics.median(times["explicit"]) * 1e3
    return {
        "autograd_ms": round(autograd_ms, 4),
        "explicit_ms": round(explicit_ms, 4),
        "ratio": round(explicit_ms / autograd_ms, 3),
        "target": TARGETS[family],
        "grad_rel_err": error,
    }


def run(quick: bool = False, device: str | None = None, threads: int | None = None) -> dict:
    """Explicit / autograd time per gradient for each MLP of ``MODELS`` and each model of ``CASES``.

    ``threads`` sets torch's CPU threads for the measurement only (on a busy machine, 1 thread
    measures the two backward passes rather than the contention of a spinning thread pool).
    """
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        results = {name: measure(name, quick, dev) for name in (*MODELS, *CASES)}
        used = torch.get_num_threads()
    finally:
        torch.set_num_threads(previous)
    return {
        "benchmark": "explicit_backward_vs_autograd",
        "device": str(dev),
        "threads": used,
        "batch_size": BATCH,
        "results": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    print(json.dumps(run(args.quick, args.device, args.threads), indent=2))


if __name__ == "__main__":
    main()
