"""One training epoch three ways: bp_app's mixin in a real pl.Trainer, the plainest PyTorch loop,
and Lightning's automatic optimization. Same network, data, batch size and optimizer.

    raw        in-memory tensors, randperm index slices, zero_grad / forward / backward / step
    mixin      the model's ManualBackpropMixin step, logging at conf/trainer/default.yaml's
               log_every_n_steps, data.steps_per_batch from conf/data/synthetic.yaml
    mixin_k1   the same with one optimizer step per Lightning batch
    automatic  a LightningModule with automatic optimization (training_step returns the loss),
               logging the same scalars on the same steps

Every repetition builds each variant afresh from the same initial weights and trains it for a
short warm-up (log_every_n_steps + 1 optimizer steps), then one full timed epoch (see
bp_app.benchmarks.loops). Lightning's epoch is timed from on_train_epoch_start to
on_train_epoch_end (fetching, hooks, logging and the logger's writes included). The variants
take turns in a rotating order, and each ratio is of the variants' medians.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from bp_app.benchmarks.loops import (
    BATCH,
    AutomaticClassifier,
    conf,
    lightning_epoch,
    raw_epoch,
    warmup_steps,
)
from bp_app.data.synthetic import SyntheticImagesDataModule
from bp_app.models.classifier import ClassifierModule
from bp_app.models.cnn import CNNClassifier
from bp_app.models.mlp import MLPClassifier

# The seed lecture's networks: the 784-128-10 MLP and the Keras CNN (no batch norm).
MODELS: dict[str, tuple[type[ClassifierModule], dict[str, Any]]] = {
    "mlp": (MLPClassifier, {"hidden_sizes": [128]}),
    "cnn": (CNNClassifier, {"channels": [32], "hidden_sizes": [128], "batch_norm": False}),
}
VARIANTS = ("raw", "mixin", "mixin_k1", "automatic")


def defaults() -> dict[str, int]:
    """The settings a user gets: trainer.log_every_n_steps and data.steps_per_batch."""
    return {
        "log_every_n_steps": int(conf("trainer/default.yaml")["log_every_n_steps"]),
        "steps_per_batch": int(conf("data/synthetic.yaml").get("steps_per_batch", 1)),
    }


def build_model(name: str, optimizer: dict[str, Any]) -> ClassifierModule:
    """The bp_app model, from fixed initial weights (the raw and automatic loops use its net)."""
    cls, options = MODELS[name]
    torch.manual_seed(0)
    return cls(input_shape=[1, 28, 28], num_classes=10, optimizer=optimizer, **options)


def variants(
    name: str,
    splits: dict[str, tuple[Tensor, ...]],
    settings: dict[str, int],
    optimizer: dict[str, Any],
    device: torch.device,
) -> dict[str, Callable[[], float]]:
    """Each variant as a function that builds it afresh and returns one epoch's seconds."""
    accelerator = "gpu" if device.type == "cuda" else "cpu"
    every, k = settings["log_every_n_steps"], settings["steps_per_batch"]
    x, y = splits["train"]

    def raw() -> float:
        net = build_model(name, optimizer).net.to(device)
        return raw_epoch(net, optimizer, x, y, warmup_steps(every))

    def mixin(steps_per_batch: int) -> float:
        model = build_model(name, optimizer)
        return lightning_epoch(model, splits, steps_per_batch, every, accelerator)

    def automatic() -> float:
        module = AutomaticClassifier(build_model(name, optimizer).net, optimizer)
        return lightning_epoch(module, splits, 1, every, accelerator)

    return {
        "raw": raw,
        "mixin": lambda: mixin(k),
        "mixin_k1": lambda: mixin(1),
        "automatic": automatic,
    }


def generated_splits(samples: int, device: torch.device) -> dict[str, tuple[Tensor, ...]]:
    """MNIST-shaped generated training data (bp_app.data.synthetic), on the device."""
    data = SyntheticImagesDataModule(num_train=samples, num_val=1, num_test=1)
    return {k: tuple(t.to(device) for t in v) for k, v in data.load_splits().items()}


def measure(
    name: str,
    samples: int,
    repeats: int,
    device: torch.device,
    settings: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Median epoch seconds of every variant over interleaved repetitions, and their ratios."""
    settings = settings or defaults()
    optimizer = conf("optimizer/adam.yaml")
    runs = variants(name, generated_splits(samples, device), settings, optimizer, device)
    warm = variants(name, generated_splits(10 * BATCH, device), settings, optimizer, device)
    for run in warm.values():
        run()  # warm-up on ten batches: allocator, thread pool, Lightning's first-use imports
    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for repeat in range(repeats):
        shift = repeat % len(VARIANTS)
        for variant in VARIANTS[shift:] + VARIANTS[:shift]:  # each goes first in turn
            times[variant].append(runs[variant]())
    steps = -(-samples // BATCH)
    return {
        "samples": samples,
        "batch_size": BATCH,
        "steps": steps,
        "repeats": repeats,
        **settings,
        "epoch_s": {v: summary(t) for v, t in times.items()},
        "ms_per_step": {v: statistics.median(t) / steps * 1e3 for v, t in times.items()},
        "ratios": {
            "mixin/raw": ratio(times["mixin"], times["raw"]),
            "mixin_k1/raw": ratio(times["mixin_k1"], times["raw"]),
            "automatic/raw": ratio(times["automatic"], times["raw"]),
            "mixin/automatic": ratio(times["mixin"], times["automatic"]),
            "mixin_k1/automatic": ratio(times["mixin_k1"], times["automatic"]),
        },
    }


def summary(times: list[float]) -> dict[str, float]:
    return {"median": statistics.median(times), "min": min(times), "max": max(times)}


def ratio(a: list[float], b: list[float]) -> dict[str, Any]:
    """median(a) / median(b), and the range of the per-repetition ratios (the spread)."""
    pairs = [x / y for x, y in zip(a, b, strict=True)]
    return {"ratio": statistics.median(a) / statistics.median(b), "range": [min(pairs), max(pairs)]}


def quiet_lightning() -> None:
    """Lightning's per-fit banners would repeat for every repetition."""
    import logging
    import warnings

    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="pytorch_lightning")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")


def run(sizes: dict[str, tuple[int, int]], device: str) -> dict[str, Any]:
    """{model: measure(...)} for each model in ``sizes`` = {model: (samples, repeats)}."""
    quiet_lightning()
    dev = torch.device(device)
    return {name: measure(name, n, repeats, dev) for name, (n, repeats) in sizes.items()}
