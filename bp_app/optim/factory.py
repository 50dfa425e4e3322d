"""Build the optimizer and the learning-rate scheduler that a config names.

``optimizer.impl=explicit`` (the default) uses bp_app's written-out update rules
(``bp_app.optim.optimizers``); ``optimizer.impl=torch`` uses the torch.optim class with the same
hyperparameters, for comparison.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from hydra.utils import get_class

from bp_app.config.signatures import static_keywords
from bp_app.errors import ConfigError

if TYPE_CHECKING:
    import torch

IMPLEMENTATIONS = ("explicit", "torch")

# name -> (bp_app class, torch.optim class, the arguments that make the lecture's variant). Paths,
# not classes: the config check reads them before torch is imported.
OPTIMIZERS: dict[str, tuple[str, str, dict]] = {
    "sgd": ("bp_app.optim.optimizers.SGD", "torch.optim.SGD", {}),
    "momentum": ("bp_app.optim.optimizers.SGD", "torch.optim.SGD", {}),
    "nesterov": ("bp_app.optim.optimizers.SGD", "torch.optim.SGD", {"nesterov": True}),
    "rmsprop": ("bp_app.optim.optimizers.RMSProp", "torch.optim.RMSprop", {}),
    "adam": ("bp_app.optim.optimizers.Adam", "torch.optim.Adam", {}),
    "adamw": ("bp_app.optim.optimizers.AdamW", "torch.optim.AdamW", {}),
}

# bp_app's names for hyperparameters that torch.optim spells differently.
TORCH_NAMES = {"rho": "alpha"}  # RMSProp's decay ρ is torch.optim.RMSprop's alpha

# Keys of an optimizer config that bp_app reads itself rather than passing to the class.
META_KEYS = ("name", "impl")


def optimizer_class(config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The class path a config names (for its ``impl``) and the fixed arguments of its variant."""
    name = config.get("name")
    if not isinstance(name, str) or name not in OPTIMIZERS:  # a list: not a name either
        raise ConfigError(
            f"optimizer.name={name!r} is not an optimizer bp_app knows; "
            f"choose optimizer={' | optimizer='.join(OPTIMIZERS)}"
        )
    impl = config.get("impl", "explicit")
    if not isinstance(impl, str) or impl not in IMPLEMENTATIONS:
        raise ConfigError(
            f"optimizer.impl={impl!r} is unknown; choose optimizer.impl=explicit "
            "(bp_app's written-out update) or optimizer.impl=torch (torch.optim's)"
        )
    explicit, library, fixed = OPTIMIZERS[name]
    return (explicit if impl == "explicit" else library), fixed


def optimizer_arguments(config: dict[str, Any], imports: bool = True) -> dict[str, Any]:
    """The config's hyperparameters as the chosen class's keyword arguments, keys checked.

    ``imports=False``: check what bp_app's source says without importing torch (the early check);
    torch.optim's keys then wait for the full check.
    """
    path, fixed = optimizer_class(config)
    arguments = {k: v for k, v in config.items() if k not in META_KEYS}
    if path.startswith("torch."):
        arguments = {TORCH_NAMES.get(k, k): v for k, v in arguments.items()}
    if imports:
        accepted: set[str] | None = set(inspect.signature(get_class(path)).parameters)
    else:
        accepted = static_keywords(path)
    accepted = accepted - {"params"} if accepted is not None else None
    unknown = sorted(set(arguments) - accepted) if accepted is not None else []
    if unknown:
        valid = ", ".join(sorted(accepted or ()))
        raise ConfigError(
            f"optimizer.{unknown[0]} is not a hyperparameter of optimizer={config['name']} "
            f"({path}); valid keys: {valid}"
        )
    if "betas" in arguments:
        arguments["betas"] = tuple(arguments["betas"])
    return {**arguments, **fixed}


def build_optimizer(
    params: Iterable[torch.nn.Parameter], config: dict[str, Any]
) -> torch.optim.Optimizer:
    """The optimizer over ``params`` that ``config`` describes."""
    path, _ = optimizer_class(config)
    return get_class(path)(params, **optimizer_arguments(config))
