"""Before any trial trains: every searched key, option and bound composes into a config that
bp-train accepts, and the objective is a metric the model logs after every validation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from hydra.utils import get_class
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from bp_app.config.checks import check_train_config
from bp_app.errors import ConfigError
from bp_app.search.space import SearchSpace


def check_search(
    space: SearchSpace, compose: Any, fixed: list[str], direction: str
) -> DictConfig | None:
    """Compose each param's options and bounds (``compose(overrides) -> cfg``); raise ConfigError
    naming the param that fails. Returns the first composed config."""
    first = None
    for param in space.params:
        condition = [param.when] if param.when else []
        for corner in param.corners():
            where = (
                f"hydra.sweeper.params.{param.key}"
                if param.when is None
                else f"hydra.sweeper.conditional.{param.when}.{param.key}"
            )
            try:
                cfg = compose([*fixed, *condition, corner])
            except (HydraException, OmegaConfBaseException) as error:
                reason = str(error).strip().splitlines()[0]
                raise ConfigError(
                    f"{where}: {corner} does not compose: {reason}. Search keys that exist "
                    "in the config (bp-train --cfg job shows them) and options that exist"
                ) from None
            try:
                with hydra_config(cfg):  # ${hydra:...} interpolations resolve as in the trial
                    check_train_config(cfg)
            except ConfigError as error:
                raise ConfigError(
                    f"{where}: {corner} is not a value bp-train takes: {error}"
                ) from None
            first = first or cfg
    if first is not None:
        check_objective(first, direction)
    return first


@contextmanager
def hydra_config(cfg: DictConfig) -> Iterator[None]:
    """Hydra's runtime config set to ``cfg`` for a moment (a trial sets its own when it runs)."""
    instance = HydraConfig.instance()
    before = instance.cfg
    instance.set_config(cfg)
    try:
        yield
    finally:
        instance.cfg = before


def check_objective(cfg: DictConfig, direction: str) -> None:
    """The objective is reported every epoch for pruning: it must be a validation metric of the
    model (``val_metrics`` beside its ``self.log`` calls)."""
    metric = cfg.optimized_metric
    model = get_class(cfg.model._target_)
    logged = tuple(getattr(model, "val_metrics", ()))
    if metric not in logged:
        raise ConfigError(
            f"optimized_metric={metric} is not a metric {model.__name__} logs after every "
            f"validation; choose one of: {', '.join(logged) or 'none declared'}"
        )
    if direction not in ("minimize", "maximize"):
        raise ConfigError(
            f"hydra.sweeper.direction={direction!r} is unknown; choose minimize or maximize"
        )
