"""Turn a composed config into the objects of a run: data, model, callbacks, logger, trainer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from hydra.errors import InstantiationException
from hydra.utils import instantiate as hydra_instantiate
from omegaconf import DictConfig
from pytorch_lightning.callbacks.progress import ProgressBar
from pytorch_lightning.utilities.exceptions import MisconfigurationException

from bp_app.config import container
from bp_app.errors import BPAppError, ConfigError
from bp_app.models.memory import check_model_memory
from bp_app.runs.threads import apply_threads


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


def build_datamodule(cfg: DictConfig) -> pl.LightningDataModule:
    return instantiate(cfg.data, "data", _convert_="all")


def build_model(cfg: DictConfig, datamodule: Any) -> pl.LightningModule:
    """The model, sized by the data, with the optimization choices as plain containers; one
    too large for this machine's memory fails first, saying how much it needs."""

    inputs = datamodule.model_inputs()  # may read the data: not on the meta device

    def build() -> pl.LightningModule:
        return instantiate(
            cfg.model,
            "model",
            **inputs,
            optimizer=container(cfg.optimizer),
            scheduler=container(cfg.scheduler),
            regularization=container(cfg.regularization),
            descent=container(cfg.descent),
            _convert_="all",
        )

    check_model_memory(build)  # on the meta device: shapes only, no storage
    return build()


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


# trainer keys bp_app reads itself (not pl.Trainer arguments)
TRAINER_EXTRA_KEYS = ("threads",)


def build_trainer(
    cfg: DictConfig, callbacks: list[pl.Callback], logger: Any, plugins: list[Any] | None = None
) -> pl.Trainer:
    extra = {"plugins": plugins} if plugins else {}
    return instantiate(
        trainer_node(cfg), "trainer", callbacks=callbacks, logger=logger, _convert_="all", **extra
    )


def trainer_node(cfg: DictConfig) -> dict[str, Any]:
    """cfg.trainer without the keys bp_app reads itself: pl.Trainer's arguments."""
    return {k: v for k, v in container(cfg.trainer).items() if k not in TRAINER_EXTRA_KEYS}


def set_threads(cfg: DictConfig) -> int:
    """torch's intra-op threads as ``trainer.threads`` says (bp_app.runs.threads)."""
    return apply_threads(cfg.trainer.get("threads", "auto"))


def run_dir(cfg: DictConfig) -> Path:
    return Path(cfg.paths.run_dir)
