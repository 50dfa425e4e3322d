"""Key checks: every key a config sets is one its code reads, with a value of the right type.

A ``_target_`` node's keys are its target's arguments (followed up a class's ``**kwargs``); a
plain group node's keys are listed by the code that reads it. A misspelled key names the
nearest valid one ("did you mean").
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import typing
from collections.abc import Callable
from typing import Any

from hydra.utils import get_object
from omegaconf import OmegaConf

from bp_app.config.signatures import static_keywords
from bp_app.config.sources import KeySources
from bp_app.config.value_types import check_value_type
from bp_app.errors import ConfigError

HYDRA_KEYS = {"_target_", "_convert_", "_recursive_", "_partial_", "_args_"}


def accepted_keywords(target: Callable[..., Any]) -> set[str] | None:
    """Keyword arguments a class or function takes, following ``**kwargs`` up a class's MRO;
    None when it accepts anything."""
    if not inspect.isclass(target):
        return _named_parameters(target)
    names: set[str] = set()
    for klass in target.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        parameters = inspect.signature(init).parameters.values()
        names |= {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            return names - {"self"}
    return None


def _named_parameters(function: Callable[..., Any]) -> set[str] | None:
    parameters = inspect.signature(function).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return None
    return {p.name for p in parameters}


def _type_hints(target: Any) -> dict[str, Any]:
    """Argument types of a function, or of a class's ``__init__`` and those its ``**kwargs``
    pass to up the MRO (as ``accepted_keywords`` follows them); the nearest class wins."""
    inits = [target]
    if inspect.isclass(target):
        inits = [k.__dict__["__init__"] for k in target.__mro__ if "__init__" in k.__dict__]
    hints: dict[str, Any] = {}
    for init in inits:
        try:
            own = typing.get_type_hints(init)
        except Exception:  # unresolvable forward references: skip the type check, not the key
            own = {}
        parameters = inspect.signature(init).parameters.values()
        for p in parameters:  # ``x: int = None`` takes None, whatever its hint says
            if p.default is None and p.name in own:
                own[p.name] = own[p.name] | None
        hints = {**own, **hints}
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            break
    return hints


def check_target_node(
    node: dict[str, Any], where: str, sources: KeySources | None = None, imports: bool = True
) -> None:
    """Every key of a ``_target_`` node must be an argument of its target, with a sane type.

    ``imports=False``: only what the target's source says (``signatures.static_keywords``),
    keys without types, and nothing for a target it cannot read; nothing is imported.
    """
    target_path = node["_target_"]
    if imports:
        try:
            target = get_object(target_path)
        except Exception as error:
            raise ConfigError(
                f"{where}._target_={target_path!r} cannot be imported: {error}"
            ) from error
        accepted, hints = accepted_keywords(target), _type_hints(target)
    else:
        accepted, hints = static_keywords(target_path), {}
        if accepted is None:
            return
    sources = sources or KeySources()
    for key, value in node.items():
        if key in HYDRA_KEYS:
            continue
        if accepted is not None and key not in accepted:
            close = difflib.get_close_matches(key, sorted(accepted), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            source = sources.of(where, key)
            origin = f" (set by {source})" if source else ""
            raise ConfigError(
                f"Unknown config key '{where}.{key}'{origin}:{sources.pair_advice(where, key)} "
                f"{target_path} takes no argument '{key}'.{hint} "
                f"Valid keys: {', '.join(sorted(accepted))}."
            )
        if key in hints:
            check_value_type(where, key, value, hints[key], declared_by_bp_app(target, key))


def declared_by_bp_app(target: Any, key: str) -> bool:
    """Whether a bp_app function or class's own ``__init__`` names ``key`` (not one it passes
    on through ``**kwargs`` to a library class): its hint then says whether None is taken."""
    if not getattr(target, "__module__", "").startswith("bp_app."):
        return False
    init = target.__dict__.get("__init__") if inspect.isclass(target) else target
    return init is not None and key in inspect.signature(init).parameters


def check_group_keys(
    node: dict[str, Any], where: str, valid: set[str], choice: str | None = None
) -> None:
    """A plain (non-``_target_``) group node may only use the keys that bp_app reads
    (``choice``, e.g. 'scheduler=step', when the valid keys depend on the option chosen)."""
    for key in node:
        if key not in valid:
            close = difflib.get_close_matches(key, sorted(valid), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            chosen = f" for {choice}" if choice else ""
            raise ConfigError(
                f"Unknown config key '{where}.{key}'{chosen}.{hint} "
                f"Valid keys: {', '.join(sorted(valid))}."
            )


def walk_targets(node: Any, where: str, sources: KeySources, imports: bool = True) -> None:
    """Check every ``_target_`` node below ``node`` (a plain container)."""
    if isinstance(node, dict):
        if "_target_" in node:
            check_target_node(node, where, sources, imports)
        for key, child in node.items():
            walk_targets(child, f"{where}.{key}", sources, imports)
    elif isinstance(node, list):
        for i, child in enumerate(node):
            walk_targets(child, f"{where}[{i}]", sources, imports)


def check_top_level(cfg: Any, schema: type, required: tuple[str, ...]) -> None:
    """The composed config has only the schema's keys (``+new_key=1`` too is refused), and none
    of ``required`` was removed (``~data``) or left unset."""
    known = {field.name for field in dataclasses.fields(schema)} | {"hydra"}
    for key in cfg:
        if key not in known:
            close = difflib.get_close_matches(str(key), sorted(known), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise ConfigError(
                f"Unknown top-level config key '{key}' (added with +{key}=...?).{hint} "
                f"bp-train reads only: {', '.join(sorted(known - {'hydra'}))}. Drop it, or put "
                "a setting inside its group (e.g. +trainer.<key>=..., +callbacks.<name>=...)."
            )
    for key in required:
        if key not in cfg or OmegaConf.is_missing(cfg, key) or cfg[key] is None:
            options = group_options(key)
            choose = (
                f"choose one: {', '.join(f'{key}={o}' for o in options)}"
                if options
                else (f"give it a value, e.g. {key}=42")
            )
            raise ConfigError(f"'{key}' is missing (removed with ~{key}?); {choose}.")


def group_options(group: str) -> list[str]:
    """The options of a config group (conf/<group>/*.yaml); [] for a plain key."""
    from bp_app.config import config_dir

    return sorted(path.stem for path in (config_dir() / group).glob("*.yaml"))
