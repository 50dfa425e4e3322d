"""Learning-rate schedules η(t): none, step, cosine, one-cycle and reduce-on-plateau.

The mixin steps the schedule at its ``interval``: after every update (``step``) or at the end
of every epoch (``epoch``). Plateau reads the monitored validation metric, so it runs per epoch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.optim import lr_scheduler

from bp_app.errors import ConfigError
from bp_app.optim.ranges import NON_NEGATIVE, Range, check_ranges

INTERVALS = ("step", "epoch")
COMMON_KEYS = {"name", "interval"}

# The keys each schedule takes besides name and interval (the torch class's argument names).
SCHEDULER_KEYS: dict[str, set[str]] = {
    "none": set(),
    "step": {"step_size", "gamma"},
    "cosine": {"T_max", "eta_min"},
    "onecycle": {
        "max_lr",
        "total_steps",
        "pct_start",
        "anneal_strategy",
        "cycle_momentum",
        "div_factor",
        "final_div_factor",
        "three_phase",
    },
    "plateau": {"monitor", "mode", "factor", "patience", "threshold", "cooldown", "min_lr"},
}

SCHEDULER_RANGES: dict[str, Range] = {
    "step_size": Range(1, integer=True, meaning="intervals between decays"),
    "gamma": Range(0, 1, low_open=True, high_open=False, meaning="the decay factor"),
    "T_max": Range(1, integer=True, meaning="intervals from η to eta_min"),
    "eta_min": NON_NEGATIVE,
    "max_lr": Range(0, low_open=True, meaning="the peak learning rate"),
    "total_steps": Range(1, integer=True, meaning="the cycle's length in intervals"),
    "pct_start": Range(0, 1, low_open=True, meaning="the share of the cycle spent warming up"),
    "div_factor": Range(0, low_open=True),
    "final_div_factor": Range(0, low_open=True),
    "factor": Range(0, 1, low_open=True, meaning="η ← factor · η on a plateau"),
    "patience": Range(0, integer=True, meaning="epochs without improvement before a cut"),
    "threshold": NON_NEGATIVE,
    "cooldown": Range(0, integer=True),
    "min_lr": NON_NEGATIVE,
}


def check_scheduler_config(node: dict[str, Any]) -> None:
    """A known schedule, only its own keys, a known interval and values in range."""
    name = node.get("name", "none")
    if name not in SCHEDULER_KEYS:
        raise ConfigError(
            f"scheduler.name={name!r} is unknown; choose scheduler="
            + " | scheduler=".join(SCHEDULER_KEYS)
        )
    valid = COMMON_KEYS | SCHEDULER_KEYS[name]
    for key in node:
        if key not in valid:
            raise ConfigError(
                f"Unknown config key 'scheduler.{key}' for scheduler={name}. "
                f"Valid keys: {', '.join(sorted(valid))}."
            )
    interval = node.get("interval", "epoch")
    if interval not in INTERVALS:
        raise ConfigError(f"scheduler.interval={interval!r} must be 'step' or 'epoch'")
    if name == "plateau" and interval != "epoch":
        raise ConfigError(
            "scheduler=plateau reads the validation metric, which changes once per epoch: "
            "set scheduler.interval=epoch"
        )
    check_ranges(node, "scheduler", SCHEDULER_RANGES)
    if name == "plateau" and node.get("mode", "min") not in ("min", "max"):
        raise ConfigError(f"scheduler.mode={node['mode']!r} must be 'min' or 'max'")
    if name == "onecycle" and node.get("anneal_strategy", "cos") not in ("cos", "linear"):
        raise ConfigError(
            f"scheduler.anneal_strategy={node['anneal_strategy']!r} must be 'cos' or 'linear'"
        )


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    config: dict[str, Any],
    horizon: Callable[[str], int],
) -> lr_scheduler.LRScheduler | lr_scheduler.ReduceLROnPlateau | None:
    """The schedule ``config`` names, or None for ``scheduler=none``.

    ``horizon(interval)`` is the run's length in that interval (epochs, or updates): it fills in
    cosine's ``T_max`` and one-cycle's ``total_steps`` when the config leaves them null.
    """
    check_scheduler_config(config)
    name = config.get("name", "none")
    interval = config.get("interval", "epoch")
    args = {k: v for k, v in config.items() if k not in COMMON_KEYS and v is not None}
    if name == "none":
        return None
    if name == "step":
        return lr_scheduler.StepLR(optimizer, **args)  # η ← γ η every step_size intervals
    if name == "cosine":
        args.setdefault("T_max", horizon(interval))
        # η_t = η_min + (η_0 − η_min)(1 + cos(π t / T_max)) / 2
        return lr_scheduler.CosineAnnealingLR(optimizer, **args)
    if name == "onecycle":
        args.setdefault("max_lr", [group["lr"] for group in optimizer.param_groups])
        args.setdefault("total_steps", horizon(interval))
        # Warm up from max_lr / div_factor to max_lr, then anneal to a tiny fraction of it.
        return lr_scheduler.OneCycleLR(optimizer, **args)
    args.pop("monitor", None)  # the mixin reads the metric and hands it to step()
    return lr_scheduler.ReduceLROnPlateau(optimizer, **args)  # η ← factor η when stuck


def check_horizon(value: float, interval: str) -> int:
    """A finite run length, or a ConfigError saying which setting to add."""
    if value is None or value == float("inf") or value < 1:
        raise ConfigError(
            f"the schedule needs the run's length in {interval}s, but the trainer sets none: "
            "set trainer.max_epochs (or trainer.max_steps), or scheduler.T_max / "
            "scheduler.total_steps"
        )
    return int(value)
