"""Learning-rate schedules η(t): none, step, cosine, one-cycle and reduce-on-plateau.

The mixin steps the schedule at its ``interval``: after every update (``step``) or at the end
of every epoch (``epoch``). Plateau reads the monitored validation metric, so it runs per epoch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.optim import lr_scheduler

from bp_app.config.choices import COMMON_KEYS, check_scheduler_config
from bp_app.errors import ConfigError


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    config: dict[str, Any],
    horizon: Callable[[str], int],
) -> lr_scheduler.LRScheduler | lr_scheduler.ReduceLROnPlateau | None:
    """The schedule ``config`` names, or None for ``scheduler=none``.

    ``horizon(interval)`` is the run's length in that interval (epochs, or updates): it fills in
    cosine's ``T_max`` and one-cycle's ``total_steps`` when the config leaves them null.
    """
    check_scheduler_config(config)  # models built outside bp-train are checked too
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
        planned = horizon(interval)
        args.setdefault("total_steps", planned)
        if args["total_steps"] < planned:  # OneCycleLR raises at step total_steps + 1
            raise ConfigError(
                f"scheduler.total_steps={args['total_steps']} is shorter than the run, which "
                f"makes {planned} scheduler {interval}s; the one-cycle schedule cannot go past "
                f"its end. Set scheduler.total_steps={planned} or more, or leave it null (the "
                "run's length)."
            )
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
