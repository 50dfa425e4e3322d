"""Build the optimizer and the learning-rate scheduler that a config names.

``optimizer.impl=explicit`` (the default) uses bp_app's written-out update rules
(``bp_app.optim.optimizers``); ``optimizer.impl=torch`` uses the torch.optim class with the same
hyperparameters, for comparison.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any

import torch

from bp_app.errors import ConfigError
from bp_app.optim import optimizers

IMPLEMENTATIONS = ("explicit", "torch")

# name -> (bp_app class, torch.optim class, the arguments that make the lecture's variant).
OPTIMIZERS: dict[str, tuple[type[torch.optim.Optimizer], type[torch.optim.Optimizer], dict]] = {
    "sgd": (optimizers.SGD, torch.optim.SGD, {}),
    "momentum": (optimizers.SGD, torch.optim.SGD, {}),
    "nesterov": (optimizers.SGD, torch.optim.SGD, {"nesterov": True}),
    "rmsprop": (optimizers.RMSProp, torch.optim.RMSprop, {}),
    "adam": (optimizers.Adam, torch.optim.Adam, {}),
    "adamw": (optimizers.AdamW, torch.optim.AdamW, {}),
}

# bp_app's names for hyperparameters that torch.optim spells differently.
TORCH_NAMES = {"rho": "alpha"}  # RMSProp's decay ρ is torch.optim.RMSprop's alpha

# Keys of an optimizer config that bp_app reads itself rather than passing to the class.
META_KEYS = ("name", "impl")


def optimizer_class(config: dict[str, Any]) -> tuple[type[torch.optim.Optimizer], dict[str, Any]]:
    """The class a config names (for its ``impl``) and the fixed arguments of its variant."""
    name = config.get("name")
    if name not in OPTIMIZERS:
        raise ConfigError(
            f"optimizer.name={name!r} is not an optimizer bp_app knows; "
            f"choose optimizer={' | optimizer='.join(OPTIMIZERS)}"
        )
    impl = config.get("impl", "explicit")
    if impl not in IMPLEMENTATIONS:
        raise ConfigError(
            f"optimizer.impl={impl!r} is unknown; choose optimizer.impl=explicit "
            "(bp_app's written-out update) or optimizer.impl=torch (torch.optim's)"
        )
    explicit, library, fixed = OPTIMIZERS[name]
    return (explicit if impl == "explicit" else library), fixed


def optimizer_arguments(config: dict[str, Any]) -> dict[str, Any]:
    """The config's hyperparameters as the chosen class's keyword arguments, keys checked."""
    cls, fixed = optimizer_class(config)
    arguments = {k: v for k, v in config.items() if k not in META_KEYS}
    if cls.__module__.startswith("torch."):
        arguments = {TORCH_NAMES.get(k, k): v for k, v in arguments.items()}
    accepted = set(inspect.signature(cls).parameters) - {"params"}
    unknown = sorted(set(arguments) - accepted)
    if unknown:
        raise ConfigError(
            f"optimizer.{unknown[0]} is not a hyperparameter of optimizer={config['name']} "
            f"({cls.__module__}.{cls.__name__}); valid keys: {', '.join(sorted(accepted))}"
        )
    if "betas" in arguments:
        arguments["betas"] = tuple(arguments["betas"])
    return {**arguments, **fixed}


def build_optimizer(
    params: Iterable[torch.nn.Parameter], config: dict[str, Any]
) -> torch.optim.Optimizer:
    """The optimizer over ``params`` that ``config`` describes."""
    cls, _ = optimizer_class(config)
    return cls(params, **optimizer_arguments(config))
