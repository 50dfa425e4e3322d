"""Turn a composed config into the objects of a run: data, model, callbacks, logger, trainer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import yaml
from hydra.errors import InstantiationException
from hydra.utils import get_class
from hydra.utils import instantiate as hydra_instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks.progress import ProgressBar
from pytorch_lightning.utilities.exceptions import MisconfigurationException

from bp_app.config import config_dir
from bp_app.errors import BPAppError, ConfigError


def instantiate(node: Any, where: str = "", **kwargs: Any) -> Any:
    """Hydra's instantiate, with the user's mistakes unwrapped from Hydra's exception.

    A constructor that rejects a value (ValueError, ConfigError, DataError, or Lightning's
    MisconfigurationException, e.g. trainer.max_epochs=-5) reaches the user as a plain
    ``bp-train: error:`` line naming the config group, not as a traceback.
    """
    try:
        return hydra_instantiate(node, **kwargs)
    except InstantiationException as error:
        cause = error.__cause__
        if isinstance(cause, BPAppError):
            raise cause from None
        if isinstance(cause, (ValueError, MisconfigurationException)):
            message = str(cause)
            raise ConfigError(
                message if message.startswith(where) else f"{where}: {message}"
            ) from None
        raise


def container(node: Any) -> Any:
    """A plain dict / list copy of a config node, interpolations resolved (checkpoint-safe)."""
    if node is None:
        return None
    if isinstance(node, DictConfig) or OmegaConf.is_config(node):
        return OmegaConf.to_container(node, resolve=True)
    return node


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


def build_datamodule(cfg: DictConfig) -> pl.LightningDataModule:
    return instantiate(cfg.data, "data", _convert_="all")


def build_model(cfg: DictConfig, datamodule: Any) -> pl.LightningModule:
    """The model, sized by the data, with the optimization choices as plain containers."""
    return instantiate(
        cfg.model,
        "model",
        **datamodule.model_inputs(),
        optimizer=container(cfg.optimizer),
        scheduler=container(cfg.scheduler),
        regularization=container(cfg.regularization),
        descent=container(cfg.descent),
        _convert_="all",
    )


def build_callbacks(cfg: DictConfig) -> list[pl.Callback]:
    """The configured callbacks; the progress bar only while trainer.enable_progress_bar is on."""
    nodes = cfg.get("callbacks") or {}
    callbacks = [
        instantiate(node, f"callbacks.{name}", _convert_="all")
        for name, node in nodes.items()
        if node
    ]
    if not cfg.trainer.get("enable_progress_bar", True):
        callbacks = [c for c in callbacks if not isinstance(c, ProgressBar)]
    return callbacks


def build_loggers(cfg: DictConfig) -> list[Any] | bool:
    node = cfg.get("logger")
    if not node or "_target_" not in node:
        return False
    return [instantiate(node, "logger", _convert_="all")]


def build_trainer(
    cfg: DictConfig, callbacks: list[pl.Callback], logger: Any, plugins: list[Any] | None = None
) -> pl.Trainer:
    extra = {"plugins": plugins} if plugins else {}
    return instantiate(
        cfg.trainer, "trainer", callbacks=callbacks, logger=logger, _convert_="all", **extra
    )


def run_dir(cfg: DictConfig) -> Path:
    return Path(cfg.paths.run_dir)
