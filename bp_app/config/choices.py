"""Choice checks: the option a config names exists, and the options chosen go together.

A descent mode, a schedule and its interval, nesterov with a momentum, a model with data of the
kind it takes. Keys are checked in ``keys.py`` and numbers in ``ranges.py``; this module calls
those for the groups whose valid keys depend on the choice (a schedule's own arguments).
"""

from __future__ import annotations

from typing import Any

import yaml
from hydra.utils import get_class

from bp_app.config import config_dir
from bp_app.config.keys import check_group_keys
from bp_app.config.ranges import SCHEDULER_RANGES, check_batch_size, check_ranges
from bp_app.errors import ConfigError

DESCENT_MODES = ("minibatch", "stochastic", "batch")

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


def check_nesterov(node: dict[str, Any]) -> None:
    """optimizer=nesterov needs a momentum: the look-ahead follows the velocity."""
    if node.get("name") == "nesterov" and not node.get("momentum"):
        raise ConfigError(
            "optimizer.momentum must be in (0, 1) for optimizer=nesterov: the look-ahead "
            "needs a velocity. Set e.g. optimizer.momentum=0.9, or use optimizer=sgd."
        )


def check_descent(node: dict[str, Any], batch_size: Any) -> None:
    """A known descent mode, a batch size >= 1, and batch size 1 for stochastic descent."""
    mode = node.get("mode", "minibatch")
    if mode not in DESCENT_MODES:
        raise ConfigError(
            f"descent.mode={mode!r} is unknown; choose descent={' | descent='.join(DESCENT_MODES)}"
        )
    if batch_size is None:
        return
    check_batch_size(batch_size)
    if mode == "stochastic" and batch_size != 1:
        raise ConfigError(
            f"descent=stochastic updates once per example, but data.batch_size={batch_size}. "
            "Drop the data.batch_size override (descent=stochastic sets it to 1) or use "
            "descent=minibatch."
        )


def check_scheduler_config(node: dict[str, Any]) -> None:
    """A known schedule, only its own keys, a known interval and values in range."""
    name = node.get("name", "none")
    if not isinstance(name, str) or name not in SCHEDULER_KEYS:  # a list cannot be looked up
        raise ConfigError(
            f"scheduler.name={name!r} is unknown; choose scheduler="
            + " | scheduler=".join(SCHEDULER_KEYS)
        )
    check_group_keys(node, "scheduler", COMMON_KEYS | SCHEDULER_KEYS[name], f"scheduler={name}")
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


def data_options_of_kind(kind: str) -> list[str]:
    """The ``data=`` options whose data module gives inputs of ``kind``."""
    options = []
    for path in sorted((config_dir() / "data").glob("*.yaml")):
        target = (yaml.safe_load(path.read_text()) or {}).get("_target_")
        try:
            if target and getattr(get_class(target), "kind", None) == kind:
                options.append(path.stem)
        except Exception:  # an option whose module cannot import says so when chosen
            continue
    return options


def check_model_fits_data(model_target: str, data_target: str) -> None:
    """A model paired with the wrong kind of data fails at start, naming the data that fit."""
    model_kind = getattr(get_class(model_target), "input_kind", None)
    data_kind = getattr(get_class(data_target), "kind", None)
    if model_kind is not None and data_kind is not None and model_kind != data_kind:
        fitting = ", ".join(f"data={name}" for name in data_options_of_kind(model_kind))
        raise ConfigError(
            f"{model_target} takes {model_kind}, but {data_target} gives {data_kind}. "
            f"Choose data that fits: {fitting or 'none installed'}."
        )
