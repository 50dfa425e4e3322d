"""Windows of a series, the chronological split, and the naive baselines on the same windows.

A window that starts its targets at index t holds

    inputs   y[t − lookback], ..., y[t − 1]        what is known at time t − 1
    targets  y[t], ..., y[t + horizon − 1]          the next ``horizon`` values

The series splits by time: train | val | test, the test period being the last ``test_size``
points. A window belongs to the split that holds all of its targets, so no training target lies
in the validation or test period; inputs may reach back into earlier periods (that is the past).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bp_app.errors import DataError


@dataclass(frozen=True)
class SplitBounds:
    """Index ranges of the three periods: train [0, train_end), val [train_end, val_end),
    test [val_end, length)."""

    train_end: int
    val_end: int
    length: int

    def periods(self) -> dict[str, tuple[int, int]]:
        return {
            "train": (0, self.train_end),
            "val": (self.train_end, self.val_end),
            "test": (self.val_end, self.length),
        }


def split_bounds(
    length: int, lookback: int, horizon: int, val_size: int, test_size: int, where: str
) -> SplitBounds:
    """The three periods; a series too short for one window in each raises DataError."""
    needed = lookback + horizon + val_size + test_size
    if length < needed:
        raise DataError(
            f"{where} has {length} points, too few for data.lookback={lookback} + "
            f"data.horizon={horizon} + data.val_size={val_size} + data.test_size={test_size} "
            f"= {needed} (one training window, then the validation and test periods). "
            "Use a longer series or lower data.lookback, data.val_size or data.test_size."
        )
    train_end = length - test_size - val_size
    return SplitBounds(train_end=train_end, val_end=length - test_size, length=length)


def window_starts(first: int, stop: int, lookback: int, horizon: int) -> np.ndarray:
    """Target-start indices t of the windows whose targets all lie in [first, stop)."""
    return np.arange(max(first, lookback), stop - horizon + 1)


def make_windows(
    values: np.ndarray, starts: np.ndarray, lookback: int, horizon: int
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (N, lookback) and targets (N, horizon) of the windows starting at ``starts``."""
    inputs = starts[:, None] + np.arange(-lookback, 0)  # (N, lookback): t − L, ..., t − 1
    targets = starts[:, None] + np.arange(horizon)  # (N, horizon): t, ..., t + h − 1
    return values[inputs], values[targets]


def naive_forecast(series: np.ndarray, starts: np.ndarray, horizon: int) -> np.ndarray:
    """ŷ_{T+j} = y_T: the last known value, for every step ahead. (N, horizon)"""
    return np.repeat(series[starts - 1][:, None], horizon, axis=1)


def seasonal_naive_forecast(
    series: np.ndarray, starts: np.ndarray, horizon: int, season: int
) -> np.ndarray:
    """ŷ_{T+j} = y_{T+j−m(⌊(j−1)/m⌋+1)}: the value one season (m) back, from known values
    only (Hyndman and Athanasopoulos, Forecasting: Principles and Practice, 5.2). (N, horizon)"""
    k = np.arange(horizon)  # j − 1
    index = starts[:, None] + k - season * (k // season + 1)  # (N, horizon)
    if index.min() < 0:
        raise DataError(
            f"data.season={season} reaches before the start of the series for the first "
            "validation window. Use a smaller data.season or a longer series."
        )
    return series[index]
