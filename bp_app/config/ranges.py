"""Range checks: every number a config sets lies in the interval where it means something.

A learning rate of 0, a β of 1 or a negative λ would not crash: training would silently stand
still or diverge. ``bp_app.config.checks`` runs these before any data is loaded; a value out of
range raises a ConfigError naming the key, its value and the interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from bp_app.errors import ConfigError


@dataclass(frozen=True)
class Range:
    """An interval of numbers, e.g. Range(0, 1, high_open=True) is [0, 1)."""

    low: float
    high: float = math.inf
    low_open: bool = False
    high_open: bool = True
    integer: bool = False
    meaning: str = ""
    lists: bool = False  # a list of such numbers is accepted too (betas, layer sizes)

    def __contains__(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def __str__(self) -> str:
        left = "(" if self.low_open else "["
        right = ")" if self.high_open or self.high == math.inf else "]"
        high = "inf" if self.high == math.inf else f"{self.high:{'d' if self.integer else 'g'}}"
        kind = "an integer" if self.integer else "a number"
        return f"{kind} in {left}{self.low:g}, {high}{right}"


POSITIVE = Range(0, low_open=True)
NON_NEGATIVE = Range(0)
UNIT = Range(0, 1)  # [0, 1): a decay rate of 1 would never forget, and never move

# The update runs in float32: a Python float past its largest value (about 3.4e38) fails to
# convert inside torch (``w.add_(g, alpha=-η)``), and products such as η·λ get there from far
# smaller factors. No η, λ or ε means anything past a million, so that is the ceiling.
UPDATE_MAX = 1e6


def update_scale(low_open: bool, meaning: str) -> Range:
    """[0, 10^6] (or (0, 10^6]): a step size, penalty or ε the float32 update can hold."""
    return Range(0, UPDATE_MAX, low_open=low_open, high_open=False, meaning=meaning)


OPTIMIZER_RANGES: dict[str, Range] = {
    "lr": update_scale(True, "the learning rate η"),
    "momentum": Range(0, 1, meaning="the momentum μ"),
    "rho": Range(0, 1, meaning="RMSProp's decay ρ of the squared-gradient average"),
    "betas": Range(0, 1, lists=True, meaning="Adam's decays (β1, β2) of the gradient moments"),
    "eps": update_scale(True, "the denominator's ε"),
    "weight_decay": update_scale(False, "the weight decay λ"),
}

REGULARIZATION_RANGES: dict[str, Range] = {
    "strength": update_scale(False, "the penalty's strength λ (l1 and l2 follow it)"),
    "l1": update_scale(False, "the L1 strength λ1"),
    "l2": update_scale(False, "the L2 strength λ2"),
}

BATCH_SIZE = Range(1, integer=True, meaning="examples per forward pass")

# Every model's shared settings; each model checks its own, but only once it is built.
SIZE = Range(1, integer=True, meaning="a layer of 0 units trains a dead network")
SIZES = Range(1, integer=True, lists=True, meaning="a layer of 0 units trains a dead network")
MODEL_RANGES = {
    "dropout": Range(0, 1, meaning="the share of units zeroed in training; 0 turns it off"),
    "gradient_clip_val": Range(0, meaning="the clipping threshold c; null or 0: off"),
    # Sizes of any model that has them: each >= 1 (a negative one ends in a torch traceback).
    "hidden_sizes": SIZES,
    "hidden_size": SIZE,
    "channels": SIZES,
    "kernel_sizes": Range(1, integer=True, lists=True, meaning="the convolution's kernel size"),
    "pool_size": Range(1, integer=True, meaning="1 turns pooling off"),
    "embedding_dim": SIZE,
    "num_layers": Range(1, integer=True, meaning="stacked recurrent layers"),
}
# Top-level keys. numpy's generator takes seeds in [0, 2^32 - 1].
SEED = Range(0, 2**32 - 1, high_open=False, integer=True, meaning="what numpy and torch accept")

SCHEDULER_RANGES: dict[str, Range] = {
    "step_size": Range(1, integer=True, meaning="intervals between decays"),
    "gamma": Range(0, 1, low_open=True, high_open=False, meaning="the decay factor"),
    "T_max": Range(1, integer=True, meaning="intervals from η to eta_min"),
    "eta_min": update_scale(False, "the lowest learning rate"),
    "max_lr": Range(0, UPDATE_MAX, True, False, lists=True, meaning="the peak learning rate"),
    "total_steps": Range(1, integer=True, meaning="the cycle's length in intervals"),
    "pct_start": Range(0, 1, low_open=True, meaning="the share of the cycle spent warming up"),
    "div_factor": Range(0, low_open=True),
    "final_div_factor": Range(0, low_open=True),
    "factor": Range(0, 1, low_open=True, meaning="η ← factor · η on a plateau"),
    "patience": Range(0, integer=True, meaning="epochs without improvement before a cut"),
    "threshold": NON_NEGATIVE,
    "cooldown": Range(0, integer=True),
    "min_lr": update_scale(False, "the lowest learning rate"),
}


def check_value(where: str, key: str, value: Any, valid: Range) -> None:
    """Raise a ConfigError unless ``value`` is a number (or list of numbers) inside ``valid``."""
    values = value if isinstance(value, (list, tuple)) else [value]
    name = f"{where}.{key}" if where else key
    if isinstance(value, (list, tuple)) and (not valid.lists or not value):
        expected = "a non-empty list of numbers" if valid.lists else "a number, not a list"
        raise ConfigError(
            f"{name}={value!r} has the wrong type: expected {expected} ({valid}). Fix it in "
            f"the YAML file or on the command line, e.g. {name}=<value>."
        )
    for item in values:
        is_number = isinstance(item, (int, float)) and not isinstance(item, bool)
        if not is_number:  # a dict, a string, a nested list: say so, not "out of range"
            raise ConfigError(
                f"{name}={value!r} has the wrong type: expected "
                f"{'numbers' if isinstance(value, (list, tuple)) else 'a number'} "
                f"({valid}). Fix it in the YAML file or on the command line, e.g. "
                f"{name}=<value>."
            )
        whole = isinstance(item, int) or float(item).is_integer()
        if item not in valid or (valid.integer and not whole):
            meaning = f" ({valid.meaning})" if valid.meaning else ""
            each = "each value" if isinstance(value, (list, tuple)) else "it"
            raise ConfigError(
                f"{name}={value!r} is out of range: {each} must be {valid}{meaning}. "
                f"Fix it in the YAML file or on the command line, e.g. {name}=<value>."
            )


def check_ranges(node: dict[str, Any], where: str, ranges: dict[str, Range]) -> None:
    """Check every key of ``node`` that ``ranges`` knows; None means 'use the default'."""
    for key, valid in ranges.items():
        if node.get(key) is not None:
            check_value(where, key, node[key], valid)


def check_optimizer_ranges(node: dict[str, Any]) -> None:
    """lr > 0; momentum, ρ, β1, β2 in [0, 1); ε > 0; weight decay >= 0."""
    check_ranges(node, "optimizer", OPTIMIZER_RANGES)
    betas = node.get("betas")
    if betas is not None and (not isinstance(betas, (list, tuple)) or len(betas) != 2):
        raise ConfigError(f"optimizer.betas={betas!r} must be two numbers [β1, β2] in [0, 1)")


def check_regularization_ranges(node: dict[str, Any]) -> None:
    """λ1 >= 0 and λ2 >= 0."""
    check_ranges(node, "regularization", REGULARIZATION_RANGES)


def check_batch_size(batch_size: Any) -> None:
    """data.batch_size >= 1 (None: the data module's default)."""
    if batch_size is not None:
        check_value("data", "batch_size", batch_size, BATCH_SIZE)


def check_run_length(trainer: dict[str, Any]) -> None:
    """Zero epochs (or steps) would test untrained weights and write metrics.json, marking a run
    finished that never trained, so that it could not be resumed either."""
    for key in ("max_epochs", "max_steps"):
        if trainer.get(key) == 0:
            raise ConfigError(
                f"trainer.{key}=0 trains nothing: bp-train would test untrained weights and mark "
                f"the run finished. Set trainer.{key} to 1 or more; to test a checkpoint without "
                "training, use bp-eval ckpt_path=<checkpoint>."
            )


def check_threads(value: Any) -> None:
    """trainer.threads: auto, torch, or a whole number >= 1 (bp_app/runs/threads.py)."""
    if value in ("auto", "torch"):
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"trainer.threads={value!r} is out of range: it must be auto (the idle cores), "
            "torch (torch's own default) or a whole number >= 1, e.g. trainer.threads=1"
        )
