"""The whole-config check ``bp-train`` runs before anything is loaded: keys, then numbers, then
choices, group by group (each kind of check has its module: keys.py, ranges.py, choices.py)."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from bp_app.config import container
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
    check_threads,
    check_value,
)
from bp_app.config.schema import TrainSchema
from bp_app.config.sources import KeySources
from bp_app.optim.factory import optimizer_arguments

# The keys of the plain (non-_target_) groups, as the mixin reads them.
REGULARIZATION_KEYS = {"name", "strength", "l1", "l2", "include_bias"}
DESCENT_KEYS = {"mode"}
# Optimizer keys are its class's arguments (optim/factory.py); scheduler keys depend on the
# schedule (choices.SCHEDULER_KEYS).


# What a run cannot do without: ~data or ~seed on the command line removes them.
REQUIRED = ("data", "model", "optimizer", "regularization", "descent", "scheduler", "trainer")
REQUIRED += ("paths", "seed")


def check_train_config(cfg: DictConfig, imports: bool = True) -> None:
    """Raise ConfigError for any key, type or pairing that cannot work.

    ``imports=False`` is the early pass bp-train runs before it imports torch or Lightning: the
    same checks, with each bp_app class's keys read from its source (config/signatures.py) and
    whatever needs an import (Lightning's own classes' keys, types, model-data pairing) left to
    the full pass, which runs next.
    """
    check_top_level(cfg, TrainSchema, REQUIRED)
    check_value("", "seed", cfg.seed, SEED)
    check_run_length(container(cfg.trainer))
    sources = KeySources.from_hydra()  # an unknown key's message names the file that set it
    for group in ("data", "model", "trainer", "logger", "callbacks"):
        node: Any = container(cfg.get(group))
        if group == "trainer" and node:
            check_threads(node.pop("threads", "auto"))  # bp_app's key, not pl.Trainer's
        if node:
            walk_targets(node, group, sources, imports)
    # Optimization: keys, then ranges (lr > 0, β and ρ in [0, 1), λ >= 0, batch size >= 1).
    check_ranges(container(cfg.model) or {}, "model", MODEL_RANGES)
    optimizer = container(cfg.optimizer)
    optimizer_arguments(optimizer, imports)  # a known name and impl, and keys its class takes
    check_optimizer_ranges(optimizer)
    check_nesterov(optimizer)
    regularization = container(cfg.regularization) or {}
    check_group_keys(regularization, "regularization", REGULARIZATION_KEYS)
    check_regularization_ranges(regularization)
    descent = container(cfg.descent) or {}
    check_group_keys(descent, "descent", DESCENT_KEYS)
    check_descent(descent, (container(cfg.data) or {}).get("batch_size"))
    check_scheduler_config(container(cfg.scheduler) or {})
    if imports:
        check_model_fits_data(cfg.model._target_, cfg.data._target_)
