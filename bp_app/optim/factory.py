"""Build the optimizer and the learning-rate scheduler that a config names."""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any

import torch

from bp_app.errors import ConfigError

# name -> torch.optim class, plus the arguments that turn it into the lecture's variant.
TORCH_OPTIMIZERS: dict[str, tuple[type[torch.optim.Optimizer], dict[str, Any]]] = {
    "sgd": (torch.optim.SGD, {}),
    "momentum": (torch.optim.SGD, {}),
    "nesterov": (torch.optim.SGD, {"nesterov": True}),
    "rmsprop": (torch.optim.RMSprop, {}),
    "adam": (torch.optim.Adam, {}),
    "adamw": (torch.optim.AdamW, {}),
}

# Keys of an optimizer config that bp_app reads itself rather than passing to the class.
META_KEYS = ("name", "impl")


def optimizer_class(config: dict[str, Any]) -> tuple[type[torch.optim.Optimizer], dict[str, Any]]:
    """The class a config names and the fixed arguments of its variant."""
    name = config.get("name")
    if name not in TORCH_OPTIMIZERS:
        raise ConfigError(
            f"optimizer.name={name!r} is not an optimizer bp_app knows; "
            f"choose one of: {', '.join(TORCH_OPTIMIZERS)}"
        )
    return TORCH_OPTIMIZERS[name]


def optimizer_arguments(config: dict[str, Any]) -> dict[str, Any]:
    """The config's hyperparameters, checked against the optimizer's signature."""
    cls, fixed = optimizer_class(config)
    arguments = {k: v for k, v in config.items() if k not in META_KEYS}
    accepted = set(inspect.signature(cls).parameters) - {"params"}
    unknown = sorted(set(arguments) - accepted)
    if unknown:
        raise ConfigError(
            f"optimizer.{unknown[0]} is not a hyperparameter of {config['name']} "
            f"({cls.__module__}.{cls.__name__}); valid keys: {', '.join(sorted(accepted))}"
        )
    if "betas" in arguments:
        arguments["betas"] = tuple(arguments["betas"])
    return {**arguments, **fixed}


def build_optimizer(params: Iterable[torch.nn.Parameter], config: dict[str, Any]):
    """The optimizer over ``params`` that ``config`` describes."""
    cls, _ = optimizer_class(config)
    return cls(params, **optimizer_arguments(config))


def build_scheduler(optimizer: torch.optim.Optimizer, config: dict[str, Any], trainer: Any):
    """The learning-rate scheduler that ``config`` names, or None for ``scheduler=none``."""
    name = config.get("name", "none")
    if name == "none":
        return None
    args = {k: v for k, v in config.items() if k not in ("name", "interval", "monitor")}
    if name == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, **args)
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, **args)
    raise ConfigError(f"scheduler.name={name!r} is unknown; choose one of: none, step, cosine")
