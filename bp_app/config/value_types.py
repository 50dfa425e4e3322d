"""Value types: a key's value must be of the kind its argument's type hint takes.

Only what the hint says for sure is refused: a scalar where a list is wanted (and the reverse),
null where a bp_app argument takes no None (``model.hidden_sizes=null``), a bool for a number. A
dict with ``_target_`` stands for the object Hydra builds from it, so it passes. Anything the
hint leaves open (Any, a TypeVar, an unresolved name) passes too.
"""

from __future__ import annotations

import collections.abc
import inspect
import types
import typing
from typing import Any, Literal, Union

from bp_app.errors import ConfigError

UNIONS = (Union, types.UnionType)


def is_sequence(hint: Any) -> bool:
    """Sequence[...], list[...] or tuple[...] (also inside Optional); False for unions with a
    scalar (``int | Sequence[int]``), which take both."""
    origin = typing.get_origin(hint)
    if origin in UNIONS:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return len(args) == 1 and is_sequence(args[0])
    return origin in (list, tuple, collections.abc.Sequence)


def takes_none(hint: Any) -> bool:
    """Whether None is a value of ``hint`` (Optional, Any, a Literal listing None, ...)."""
    origin = typing.get_origin(hint)
    if origin in UNIONS:
        return any(takes_none(a) for a in typing.get_args(hint))
    if origin is Literal:
        return None in typing.get_args(hint)
    if hint in (None, type(None), Any, object):
        return True
    return origin is None and not inspect.isclass(hint)  # a TypeVar, a forward reference


def takes_container(hint: Any) -> bool:
    """Whether a list or a plain dict can be a value of ``hint`` (unknown kinds: yes)."""
    origin = typing.get_origin(hint)
    if origin in UNIONS:
        return any(takes_container(a) for a in typing.get_args(hint))
    if origin is Literal:
        return False
    kind = origin if origin is not None else hint
    if not inspect.isclass(kind):
        return True  # Any, a TypeVar, a forward reference: the hint does not say
    if issubclass(kind, (str, bytes, int, float, bool)):
        return False
    iterable = (collections.abc.Iterable, collections.abc.Mapping)
    return kind is object or issubclass(kind, iterable)


def check_value_type(where: str, key: str, value: Any, hint: Any, own: bool = True) -> None:
    """Raise ConfigError when ``value`` cannot be a value of ``hint`` (see the module doc).

    ``own``: the hint is bp_app's, so a hint without None means None is refused; other
    libraries' hints leave None out where their code takes it (Lightning's logger save_dir)."""
    name = f"{where}.{key}"
    fix = f"Fix the value in the YAML file or on the command line (e.g. {name}=...)."
    if value is None:
        # Sizes and numbers only: a path left null (paths.run_dir while a search composes its
        # trials) is filled in later, so str and Path arguments may be null here.
        if own and not takes_none(hint) and (is_sequence(hint) or hint in (int, float, bool)):
            raise ConfigError(f"{name}=null has the wrong type: it needs a value here. {fix}")
        return
    if is_sequence(hint) and not isinstance(value, (list, tuple)):
        raise ConfigError(
            f"{name}={value!r} has the wrong type: expected a list, e.g. "
            f"{name}=[128]. Fix the value in the YAML file or on the command line."
        )
    built = isinstance(value, dict) and "_target_" in value  # Hydra builds the object
    if isinstance(value, (list, tuple, dict)) and not built and not takes_container(hint):
        kind = "a list" if isinstance(value, (list, tuple)) else "a mapping"
        raise ConfigError(f"{name}={value!r} has the wrong type: {kind} is not one. {fix}")
    if matches(value, hint) is False:
        raise ConfigError(f"{name}={value!r} has the wrong type: expected {describe(hint)}. {fix}")


def matches(value: Any, hint: Any) -> bool | None:
    """Whether ``value`` (not None) is of ``hint``; None when the hint cannot tell (a class, a
    Literal, whose constructor's own message lists the choices)."""
    if typing.get_origin(hint) in UNIONS:
        answers = [matches(value, a) for a in typing.get_args(hint) if a is not type(None)]
        return True if True in answers else (None if None in answers else False)
    if is_sequence(hint):
        return isinstance(value, (list, tuple))
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return {
        int: number and isinstance(value, int),
        float: number,
        bool: isinstance(value, bool),
        str: isinstance(value, str),
    }.get(hint)


def describe(hint: Any) -> str:
    """'int', 'a list, str or int': the kinds a union of simple types takes."""
    kinds = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    names = ["a list" if is_sequence(k) else getattr(k, "__name__", str(k)) for k in kinds]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
