"""Scaling a series for training, fitted on the training part only and inverted for metrics.

    standard       z = (y − μ) / σ
    minmax         z = (y − min) / (max − min)
    log_standard   z = (log y − μ) / σ            for positive series that grow multiplicatively

μ, σ, min and max come from the training part alone: the validation and test periods are the
future, and a scaler that saw them would leak it into training.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from bp_app.errors import ConfigError, DataError

SCALINGS = ("standard", "minmax", "log_standard")

Array = np.ndarray | Tensor


class Scaler:
    """z = (f(y) − shift) / scale, with f = log for ``log_standard`` and the identity otherwise."""

    def __init__(self, method: str, shift: float = 0.0, scale: float = 1.0) -> None:
        if method not in SCALINGS:
            raise ConfigError(
                f"data.scaling={method!r} is unknown; choose one of: {', '.join(SCALINGS)}"
            )
        self.method = method
        self.shift = float(shift)
        self.scale = float(scale)

    @classmethod
    def fit(cls, method: str, train_values: np.ndarray, where: str = "the series") -> Scaler:
        """Fit on the training part of the series (never on validation or test values)."""
        values = np.asarray(train_values, dtype=np.float64)
        if method == "log_standard":
            bad = np.flatnonzero(values <= 0)
            if bad.size:
                raise DataError(
                    f"data.scaling=log_standard needs positive values, but {where} has "
                    f"{values[bad[0]]:g} at position {bad[0]} of its training part. "
                    "Use data.scaling=standard or data.scaling=minmax for this series."
                )
            values = np.log(values)
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is checked below
            if method == "minmax":
                low, high = values.min(), values.max()
                scaler = cls(method, shift=low, scale=(high - low) or 1.0)
            else:  # a constant training part has σ = 0: scale by 1 rather than divide by zero
                scaler = cls(method, shift=values.mean(), scale=values.std() or 1.0)
        finite = np.isfinite([scaler.shift, scaler.scale]).all()
        if not finite:  # e.g. values near 1e300: σ² overflows, and every metric would be NaN
            raise DataError(
                f"{where} is too large to scale: its training part reaches "
                f"{np.abs(values).max():g}, and its {method} statistics overflow float64. "
                "Divide the column by a power of ten in the file (e.g. thousands), or use "
                "data.scaling=log_standard for positive values."
            )
        return scaler

    def transform(self, values: Array) -> Array:
        """y -> z."""
        base = _log(values) if self.method == "log_standard" else values
        return (base - self.shift) / self.scale

    def inverse(self, scaled: Array) -> Array:
        """z -> y, in the data's own units (numpy arrays or torch tensors alike)."""
        base = scaled * self.scale + self.shift
        return _exp(base) if self.method == "log_standard" else base

    def state(self) -> dict[str, Any]:
        """Plain values, safe in a checkpoint (weights_only loading)."""
        return {"method": self.method, "shift": self.shift, "scale": self.scale}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Scaler:
        return cls(state["method"], state["shift"], state["scale"])


def _log(values: Array) -> Array:
    return torch.log(values) if isinstance(values, Tensor) else np.log(values)


def _exp(values: Array) -> Array:
    return torch.exp(values) if isinstance(values, Tensor) else np.exp(values)
