"""The whole-config check that ``bp-train`` runs before anything is loaded."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from bp_app.config.build import check_model_fits_data, container
from bp_app.config.validate import check_group_keys, walk_targets
from bp_app.optim.factory import optimizer_arguments

REGULARIZATION_KEYS = {"name", "l1", "l2", "include_bias"}
DESCENT_KEYS = {"mode"}
SCHEDULER_KEYS = {"name", "interval", "monitor", "step_size", "gamma", "T_max", "eta_min"}


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
    optimizer_arguments(container(cfg.optimizer))
    check_group_keys(container(cfg.regularization) or {}, "regularization", REGULARIZATION_KEYS)
    check_group_keys(container(cfg.descent) or {}, "descent", DESCENT_KEYS)
    check_group_keys(container(cfg.scheduler) or {}, "scheduler", SCHEDULER_KEYS)
    check_model_fits_data(cfg.model._target_, cfg.data._target_)
