"""How every data module batches: four keys each ``conf/data/*.yaml`` may set, checked once."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LoaderSettings:
    """``data.batch_size`` (training examples per step), ``data.eval_batch_size`` (per
    validation or test batch), ``data.seed`` (the shuffle; the data split has its own seed) and
    ``data.steps_per_batch`` (training mini-batches per Lightning batch, see StepGroup)."""

    batch_size: int = 128
    eval_batch_size: int = 1024
    seed: int = 0
    steps_per_batch: int = 1

    def __post_init__(self) -> None:
        for key in ("batch_size", "eval_batch_size", "steps_per_batch"):
            if getattr(self, key) < 1:
                raise ValueError(f"data.{key} must be >= 1, got {getattr(self, key)}")

    def with_given(self, **given: int | None) -> LoaderSettings:
        """These defaults with the values a config gave (None: keep the default)."""
        values = {key: value for key, value in given.items() if value is not None}
        return LoaderSettings(**{**self.__dict__, **values})
