"""Will the model fit? Count its weights on the meta device before allocating any of them.

``model.hidden_sizes=[1000000000]`` would otherwise end in an allocator traceback, or worse, be
granted by an overcommitting kernel and killed later. Building the model on torch's ``meta``
device creates every parameter's shape and no storage, so the count costs microseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from bp_app.errors import ConfigError

# Training holds the weights and their gradients at least (SGD); Adam adds two moments.
COPIES_TO_TRAIN = 2


def available_memory() -> int | None:
    """Bytes the kernel says a new allocation can take now (MemAvailable); None if unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024  # reported in KiB
    except (OSError, ValueError, IndexError):
        pass
    return None


def gigabytes(n_bytes: float) -> str:
    return f"{n_bytes / 1e9:.1f} GB"


def check_model_memory(build: Callable[[], nn.Module], available: int | None = None) -> None:
    """Raise ConfigError when the model ``build()`` makes cannot be trained in this memory."""
    available = available_memory() if available is None else available
    if available is None:
        return
    try:
        with torch.random.fork_rng(devices=[]), torch.device("meta"):  # no storage, no RNG drawn
            model = build()
    except Exception:  # e.g. a constructor that reads a tensor's values (Hydra wraps the error)
        return  # cannot be counted on the meta device: the real build runs (and fails) as before
    parameters = sum(p.numel() for p in model.parameters())
    weights = parameters * 4  # float32
    if weights * COPIES_TO_TRAIN <= available:
        return
    raise ConfigError(
        f"the model has {parameters:,} parameters: {gigabytes(weights)} of weights, at least "
        f"{gigabytes(weights * COPIES_TO_TRAIN)} to train (weights and gradients; Adam needs "
        f"twice that), but this machine has {gigabytes(available)} of memory available. Make "
        "it smaller: lower the model's sizes (e.g. model.hidden_sizes=[128])."
    )
