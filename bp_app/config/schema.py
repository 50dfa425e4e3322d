"""The top-level schema: a misspelled key in a YAML file or on the command line fails loudly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


@dataclass
class TrainSchema:
    """Keys of conf/train.yaml. Group nodes (data, model, ...) are checked against their
    targets' signatures by ``bp_app.config.keys``."""

    task_name: str = "train"
    seed: int = 42
    ckpt_path: Any = None
    resume: str = "auto"  # auto | never: see bp_app.runs.resume
    test: bool = True
    optimized_metric: str = "val/loss"
    data: Any = MISSING
    model: Any = MISSING
    optimizer: Any = MISSING
    regularization: Any = MISSING
    descent: Any = MISSING
    scheduler: Any = MISSING
    trainer: Any = MISSING
    logger: Any = None
    callbacks: Any = None
    paths: Any = MISSING


@dataclass
class EvalSchema:
    """Keys of conf/eval.yaml."""

    ckpt_path: str = MISSING
    seed: int = 42
    data: Any = None
    trainer: Any = MISSING
    paths: Any = MISSING


def register_schemas() -> None:
    store = ConfigStore.instance()
    store.store(name="train_schema", node=TrainSchema)
    store.store(name="eval_schema", node=EvalSchema)
