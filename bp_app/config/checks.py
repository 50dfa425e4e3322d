"""The whole-config check that ``bp-train`` runs before anything is loaded."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from bp_app.config.build import check_model_fits_data, container
from bp_app.config.validate import check_group_keys, walk_targets
from bp_app.optim.factory import check_optimizer_config, check_scheduler_config
from bp_app.optim.ranges import Range, check_descent, check_ranges, check_regularization_ranges

REGULARIZATION_KEYS = {"name", "strength", "l1", "l2", "include_bias"}
DESCENT_KEYS = {"mode"}
# Every model's shared settings; each model checks its own, but only once it is built.
MODEL_RANGES = {
    "dropout": Range(0, 1, meaning="the share of units zeroed in training; 0 turns it off"),
    "gradient_clip_val": Range(0, meaning="the clipping threshold c; null or 0: off"),
}
# Scheduler keys depend on the schedule: bp_app.optim.schedulers.SCHEDULER_KEYS checks them.


def config_sources() -> dict[str, str]:
    """'model' -> 'conf/model/mlp.yaml', for messages that say where a key came from."""
    try:
        from hydra.core.hydra_config import HydraConfig

        choices = HydraConfig.get().runtime.choices
    except Exception:  # composed without Hydra's runtime (some tests): no file names
        return {}
    return {group: f"conf/{group}/{choice}.yaml" for group, choice in choices.items() if choice}


def check_train_config(cfg: DictConfig) -> None:
    """Raise ConfigError for any key, type or pairing that cannot work."""
    sources = config_sources()
    for group in ("data", "model", "trainer", "logger", "callbacks"):
        node: Any = container(cfg.get(group))
        if node:
            walk_targets(node, group, sources)
    # Optimization: keys, then ranges (lr > 0, β and ρ in [0, 1), λ >= 0, batch size >= 1).
    check_ranges(container(cfg.model) or {}, "model", MODEL_RANGES)
    check_optimizer_config(container(cfg.optimizer))
    regularization = container(cfg.regularization) or {}
    check_group_keys(regularization, "regularization", REGULARIZATION_KEYS)
    check_regularization_ranges(regularization)
    descent = container(cfg.descent) or {}
    check_group_keys(descent, "descent", DESCENT_KEYS)
    check_descent(descent, (container(cfg.data) or {}).get("batch_size"))
    check_scheduler_config(container(cfg.scheduler) or {})
    check_model_fits_data(cfg.model._target_, cfg.data._target_)
