"""Time series as windows: generated sine waves, the airline passengers, or a user's CSV.

Each split is a tuple of tensors. Training: inputs (N, lookback, 1) and scaled targets
(N, s), s = output_steps. Validation and test add, in the data's own units, the actual targets
(N, s) and the naive and seasonal-naive forecasts of the very same windows (N, 2, s), so every
run compares the model with both baselines; the test period is also forecast h = horizon steps
from one origin (``origin``).
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import Any

import numpy as np
import torch

from bp_app.data.horizon_eval import OriginForecasts, origin_forecasts
from bp_app.data.in_memory import InMemoryDataModule
from bp_app.data.loader_settings import LoaderSettings
from bp_app.data.scaling import Scaler
from bp_app.data.series_csv import Series, read_series_csv
from bp_app.data.stat_baselines import check_names
from bp_app.data.windows import (
    make_windows,
    naive_forecast,
    seasonal_naive_forecast,
    split_bounds,
    window_starts,
)
from bp_app.errors import ConfigError

HISTORY_KEPT = 500  # points of the series stored in checkpoints for bp-predict


class SeriesDataModule(InMemoryDataModule):
    """Windows of one series, split by time, scaled with statistics of the training part.

    ``horizon`` is how far ahead the run forecasts and is judged (the last ``horizon`` values,
    from one origin: bp_app.data.horizon_eval); ``output_steps`` is how many values the network
    outputs per window: all of them (null, a direct multi-output head) or fewer, fed back in.
    """

    kind = "windows"
    loader_defaults = LoaderSettings(batch_size=32, eval_batch_size=1024)

    def __init__(
        self,
        lookback: int = 12,
        horizon: int = 1,
        val_size: int = 12,
        test_size: int = 24,
        scaling: str = "standard",
        season: int = 12,
        output_steps: int | None = None,
        stat_baselines: Sequence[str] = (),
        **loader: Any,
    ) -> None:
        super().__init__(**loader)  # batch_size, eval_batch_size, seed, steps_per_batch
        for key, value in (("lookback", lookback), ("horizon", horizon), ("season", season)):
            if value < 1:
                raise ConfigError(f"data.{key} must be >= 1, got {value}")
        steps = horizon if output_steps is None else output_steps
        if not 1 <= steps <= horizon:
            raise ConfigError(
                f"data.output_steps={output_steps} must be between 1 and data.horizon={horizon} "
                "(null: the network outputs all data.horizon values at once)"
            )
        steps_key = "data.horizon" if output_steps is None else "data.output_steps"
        for key, value, needed, why in (
            ("val_size", val_size, steps, f"{steps_key}={steps}: one whole window of targets"),
            ("test_size", test_size, horizon, f"data.horizon={horizon}: the values forecast"),
        ):
            if value < needed:
                raise ConfigError(f"data.{key}={value} must be at least {why}")
        Scaler(scaling)  # an unknown method fails now, before any data is read
        self.stat_baselines = check_names(stat_baselines)
        self.lookback, self.horizon, self.season = lookback, horizon, season
        self.output_steps = steps
        self.val_size, self.test_size, self.scaling = val_size, test_size, scaling
        self.series: Series | None = None
        self.scaler: Scaler | None = None
        self.starts: dict[str, np.ndarray] = {}  # target-start index t of every window, per split
        self.origin: OriginForecasts | None = None  # the h-step test from one origin

    def load_series(self) -> Series:
        """The whole series, oldest first."""
        raise NotImplementedError

    def load_splits(self) -> dict[str, tuple[torch.Tensor, ...]]:
        series = self.series = self.load_series()
        bounds = split_bounds(
            len(series.values),
            self.lookback,
            self.output_steps,
            self.val_size,
            self.test_size,
            series.source,
        )
        self.scaler = Scaler.fit(self.scaling, series.values[: bounds.train_end], series.source)
        scaled = self.scaler.transform(series.values)
        splits = {}
        steps = self.output_steps
        for name, (first, stop) in bounds.periods().items():
            starts = self.starts[name] = window_starts(first, stop, self.lookback, steps)
            inputs, targets = make_windows(scaled, starts, self.lookback, steps)
            tensors = [inputs[..., None], targets]  # (N, lookback, 1): one feature per step
            if name != "train":
                _, actual = make_windows(series.values, starts, self.lookback, steps)
                naive = naive_forecast(series.values, starts, steps)
                seasonal = seasonal_naive_forecast(series.values, starts, steps, self.season)
                tensors += [actual, np.stack([naive, seasonal], axis=1)]  # (N, 2, s)
            splits[name] = tuple(torch.as_tensor(t, dtype=torch.float32) for t in tensors)
        self.origin = origin_forecasts(
            series.values, self.horizon, self.season, self.stat_baselines
        )
        return splits

    def loaded(self) -> dict[str, tuple[torch.Tensor, ...]]:
        """The splits, read on first use (the model is sized from them before training)."""
        if self.splits is None:
            self.splits = self.load_splits()
        return self.splits

    def model_inputs(self) -> dict[str, Any]:
        self.loaded()
        # The model's horizon is what its head outputs per window.
        return {
            "lookback": self.lookback,
            "horizon": self.output_steps,
            "scaler": self.scaler.state(),
        }

    def prediction_state(self) -> dict[str, Any]:
        """The scaler and the series' tail: what forecasting past the end of the data needs."""
        self.loaded()
        series = self.series
        dates = series.dates[-HISTORY_KEPT:] if series.dates is not None else None
        return {
            "scaler": self.scaler.state(),
            "lookback": self.lookback,
            "horizon": self.horizon,  # bp-predict's default number of steps
            "output_steps": self.output_steps,
            "name": series.name,
            "source": series.source,
            "history": [float(v) for v in series.values[-HISTORY_KEPT:]],
            "dates": [str(d) for d in dates] if dates is not None else None,
        }


class SineDataModule(SeriesDataModule):
    """``data=sine``: y_t = A sin(2π t / period) + ε_t, ε_t ~ N(0, noise²), generated offline."""

    def __init__(
        self,
        length: int = 1000,
        period: float = 50.0,
        amplitude: float = 1.0,
        noise: float = 0.1,
        noise_seed: int = 0,
        **windows: Any,
    ) -> None:
        super().__init__(**windows)
        if length < 1 or period <= 0 or noise < 0:
            raise ConfigError(
                "data.length and data.period must be positive and data.noise >= 0, got "
                f"length={length}, period={period}, noise={noise}"
            )
        self.length, self.period, self.amplitude = length, period, amplitude
        self.noise, self.noise_seed = noise, noise_seed

    def load_series(self) -> Series:
        t = np.arange(self.length)
        # Its own generator: the series stays fixed when the training seed changes.
        noise = np.random.default_rng(self.noise_seed).normal(0.0, self.noise, self.length)
        values = self.amplitude * np.sin(2 * np.pi * t / self.period) + noise
        return Series(values=values, dates=None, name="sine", source="data=sine")


class AirlineDataModule(SeriesDataModule):
    """``data=airline``: monthly airline passengers (thousands), 1949-1960, shipped in bp_app."""

    def load_series(self) -> Series:
        csv_file = resources.files("bp_app.data") / "airline_passengers.csv"
        with resources.as_file(csv_file) as path:  # a real path even from a zipped install
            return read_series_csv(path, value_column="passengers", date_column="month")


class SeriesCSVDataModule(SeriesDataModule):
    """``data=series_csv``: the user's CSV, with a value column and an optional date column."""

    def __init__(
        self,
        path: str | None = None,
        value_column: str = "value",
        date_column: str | None = None,
        fill: str = "none",
        **windows: Any,
    ) -> None:
        super().__init__(**windows)
        if not path:
            raise ConfigError(
                "data=series_csv needs the file: pass data.path=<your.csv> "
                "data.value_column=<column> (and data.date_column=<column> if it has dates)"
            )
        self.path, self.value_column, self.date_column, self.fill = (
            path,
            value_column,
            date_column,
            fill,
        )

    def load_series(self) -> Series:
        return read_series_csv(self.path, self.value_column, self.date_column, self.fill)
