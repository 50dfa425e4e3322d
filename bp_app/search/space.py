"""The search space: Hydra's sweep syntax read into Optuna distributions, asked trial by trial.

    optimizer: choice(sgd, momentum, adam)          categorical (a config group, or any value)
    optimizer.lr: tag(log, interval(1e-4, 1e-1))    float, log-uniform: log lr ~ U(log a, log b)
    data.batch_size: range(32, 257, 32)             categorical over the range's values
    model.dropout: interval(0.0, 0.5)               float, uniform; tag(int, ...) for integers

A conditional parameter is asked only when a choice took one value (Optuna's define-by-run
space), e.g. the L1 weight only when ``regularization=l1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import optuna
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep

from bp_app.errors import ConfigError

WHERE = "hydra.sweeper.params"


@dataclass(frozen=True)
class Param:
    """One searched value: its override key, and either choices (as override text) or bounds."""

    key: str
    choices: tuple[str, ...] = ()
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    integer: bool = False
    when: str | None = None  # "group=option": asked only when that choice was taken

    def suggest(self, trial: optuna.Trial) -> str:
        """The override ``key=value`` for this trial."""
        if self.choices:
            return f"{self.key}={trial.suggest_categorical(self.key, list(self.choices))}"
        if self.integer:
            value: float = trial.suggest_int(self.key, int(self.low), int(self.high), log=self.log)
            return f"{self.key}={value}"
        return f"{self.key}={trial.suggest_float(self.key, self.low, self.high, log=self.log)!r}"

    def corners(self) -> list[str]:
        """Overrides that together touch every option and both bounds: the checks compose each."""
        if self.choices:
            return [f"{self.key}={choice}" for choice in self.choices]
        ends = (int(self.low), int(self.high)) if self.integer else (self.low, self.high)
        return [f"{self.key}={value!r}" for value in ends]


def parse_param(key: str, text: str, when: str | None = None) -> Param:
    """One ``key: sweep`` entry; an empty range, a choice without options or a log range that
    reaches 0 is a ConfigError naming the entry."""
    where = f"{WHERE}.{key}" if when is None else f"hydra.sweeper.conditional.{when}.{key}"
    try:
        override = OverridesParser.create().parse_override(f"{key}={text}")
    except Exception as error:  # Hydra's parser: "empty choice is not legal", syntax errors
        cause = error.__cause__ or error
        raise ConfigError(f"{where}={text!r} cannot be read: {cause}") from None
    value = override.value()
    if isinstance(value, ChoiceSweep):
        return Param(key, tuple(discrete_values(override, where, text)), when=when)
    if isinstance(value, RangeSweep):
        values = tuple(override.sweep_string_iterator())
        if not values:
            raise ConfigError(f"{where}={text} is an empty range: make stop greater than start")
        return Param(key, values, when=when)
    if isinstance(value, IntervalSweep):
        low, high = float(value.start), float(value.end)
        if not low < high:
            raise ConfigError(
                f"{where}={text} is an empty interval: the lower bound must be below the upper"
            )
        log = "log" in value.tags
        if log and low <= 0:
            raise ConfigError(f"{where}={text}: a log interval needs a lower bound above 0")
        return Param(key, low=low, high=high, log=log, integer="int" in value.tags, when=when)
    raise ConfigError(
        f"{where}={text!r} is one value, not a range: use choice(...), range(...) or interval(...)"
    )


def discrete_values(override: Override, where: str, text: str) -> list[str]:
    values = list(override.sweep_string_iterator())
    if not values:
        raise ConfigError(f"{where}={text} has no options: list at least one")
    return values


@dataclass(frozen=True)
class SearchSpace:
    params: tuple[Param, ...]

    @classmethod
    def from_config(
        cls, params: dict[str, Any] | None, conditional: dict[str, Any] | None
    ) -> SearchSpace:
        parsed = [parse_param(str(k), str(v)) for k, v in (params or {}).items()]
        for when, group in (conditional or {}).items():
            choice_key, _, option = str(when).partition("=")
            parent = next((p for p in parsed if p.key == choice_key and p.choices), None)
            if parent is None or option not in parent.choices:
                raise ConfigError(
                    f"hydra.sweeper.conditional.{when}: {choice_key} must be a choice(...) in "
                    f"hydra.sweeper.params that lists {option!r}"
                )
            parsed += [parse_param(str(k), str(v), when=str(when)) for k, v in group.items()]
        if not parsed:
            raise ConfigError(f"{WHERE} is empty: name at least one value to search")
        return cls(tuple(parsed))

    def suggest(self, trial: optuna.Trial) -> list[str]:
        """This trial's overrides, the conditional ones only where their choice was taken."""
        chosen: list[str] = []
        for param in self.params:
            if param.when is None or param.when in chosen:
                chosen.append(param.suggest(trial))
        return chosen

    def check_overrides(self) -> list[list[str]]:
        """Override lists whose compositions cover every option and bound (the first of each
        of the others), so that a wrong key or value fails before any trial trains."""
        base = {p.key: p.corners()[0] for p in self.params if p.when is None}
        lists = []
        for param in self.params:
            for corner in param.corners():
                chosen = dict(base)
                if param.when is not None:
                    chosen[param.when.partition("=")[0]] = param.when
                chosen[param.key] = corner
                lists.append(list(chosen.values()))
        return lists
