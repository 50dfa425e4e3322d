"""The whole-config check ``bp-train`` runs before anything is loaded: keys, then numbers, then
choices, group by group (each kind of check has its module: keys.py, ranges.py, choices.py)."""

from __future__ import annotations

from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from bp_app.config.build import container
from bp_app.config.choices import (
    check_descent,
    check_model_fits_data,
    check_nesterov,
    check_scheduler_config,
)
from bp_app.config.keys import check_group_keys, check_top_level, walk_targets
from bp_app.config.ranges import (
    MODEL_RANGES,
    SEED,
    check_optimizer_ranges,
    check_ranges,
    check_regularization_ranges,
    check_run_length,
    check_value,
)
from bp_app.config.schema import TrainSchema
from bp_app.optim.factory import optimizer_arguments

# The keys of the plain (non-_target_) groups, as the mixin reads them.
REGULARIZATION_KEYS = {"name", "l1", "l2", "include_bias"}
DESCENT_KEYS = {"mode"}
# Optimizer keys are its class's arguments (optim/factory.py); scheduler keys depend on the
# schedule (choices.SCHEDULER_KEYS).


def config_sources() -> dict[str, str]:
    """'model' -> 'conf/model/mlp.yaml', for messages that say where a key came from."""
    try:
        choices = HydraConfig.get().runtime.choices
    except Exception:  # composed without Hydra's runtime (some tests): no file names
        return {}
    return {group: f"conf/{group}/{choice}.yaml" for group, choice in choices.items() if choice}


# What a run cannot do without: ~data or ~seed on the command line removes them.
REQUIRED = ("data", "model", "optimizer", "regularization", "descent", "scheduler", "trainer")
REQUIRED += ("paths", "seed")


def check_train_config(cfg: DictConfig) -> None:
    """Raise ConfigError for any key, type or pairing that cannot work."""
    check_top_level(cfg, TrainSchema, REQUIRED)
    check_value("", "seed", cfg.seed, SEED)
    check_run_length(container(cfg.trainer))
    sources = config_sources()
    for group in ("data", "model", "trainer", "logger", "callbacks"):
        node: Any = container(cfg.get(group))
        if node:
            walk_targets(node, group, sources)
    # Optimization: keys, then ranges (lr > 0, β and ρ in [0, 1), λ >= 0, batch size >= 1).
    check_ranges(container(cfg.model) or {}, "model", MODEL_RANGES)
    optimizer = container(cfg.optimizer)
    optimizer_arguments(optimizer)  # a known name and impl, and keys its class takes
    check_optimizer_ranges(optimizer)
    check_nesterov(optimizer)
    regularization = container(cfg.regularization) or {}
    check_group_keys(regularization, "regularization", REGULARIZATION_KEYS)
    check_regularization_ranges(regularization)
    descent = container(cfg.descent) or {}
    check_group_keys(descent, "descent", DESCENT_KEYS)
    check_descent(descent, (container(cfg.data) or {}).get("batch_size"))
    check_scheduler_config(container(cfg.scheduler) or {})
    check_model_fits_data(cfg.model._target_, cfg.data._target_)
