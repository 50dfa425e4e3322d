"""Forecast figures: the test period against the baselines (at test end), and a forecast past
the end of the data (bp-predict). Drawn with matplotlib's Agg canvas: no display needed."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from pytorch_lightning.loggers import TensorBoardLogger

log = logging.getLogger(__name__)

PLOT_POINTS = 500  # longer series show only their last points, so the test period stays legible


def rmse(forecast: np.ndarray, actual: np.ndarray) -> float:
    return float(np.sqrt(np.mean((forecast - actual) ** 2)))


def time_axis(dates: np.ndarray | None, start: int, stop: int) -> np.ndarray:
    """Dates of positions [start, stop) when the series has them, else the positions."""
    return dates[start:stop] if dates is not None else np.arange(start, stop)


def plot_test_period(
    values: np.ndarray,
    dates: np.ndarray | None,
    starts: np.ndarray,
    forecasts: dict[str, np.ndarray],
    name: str,
    origin: tuple[int, dict[str, np.ndarray]] | None = None,
) -> Figure:
    """The series and, at the test targets ``starts``, each one-step forecast with its RMSE;
    with ``origin`` (index, forecasts), a second panel of the h-step forecasts from there."""
    figure = Figure(figsize=(10, 9 if origin else 4.5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(2 if origin else 1, 1, squeeze=False)[:, 0]
    ax = axes[0]
    first = max(0, len(values) - PLOT_POINTS)
    ax.plot(time_axis(dates, first, len(values)), values[first:], color="black", label=name)
    when = dates[starts] if dates is not None else starts
    styles = {"forecaster": "-o", "naive": "--", "seasonal naive": ":"}
    for label, forecast in forecasts.items():
        error = rmse(forecast, values[starts])
        ax.plot(
            when, forecast, styles.get(label, "-"), markersize=3, label=f"{label} ({error:.3g})"
        )
    ax.axvspan(when[0], when[-1], color="grey", alpha=0.12, label="test period")
    ax.set_title("Test period, one step ahead: forecasts and their RMSE in the data's units")
    ax.set_ylabel(name)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.07), ncol=5, frameon=False)
    if origin:
        plot_origin(axes[1], values, dates, origin[0], origin[1], name)
    return figure


def plot_origin(
    ax: Any,
    values: np.ndarray,
    dates: np.ndarray | None,
    origin: int,
    forecasts: dict[str, np.ndarray],
    name: str,
) -> None:
    """On ``ax``: the series and each forecast of its last h values from one origin, with RMSE."""
    h = len(values) - origin
    first = max(0, origin - 3 * h)  # some history before the origin, so the season shows
    ax.plot(time_axis(dates, first, len(values)), values[first:], color="black", label=name)
    when = time_axis(dates, origin, len(values))
    for label, forecast in forecasts.items():
        style = "-o" if label == "forecaster" else "--"
        error = rmse(forecast, values[origin:])
        ax.plot(when, forecast, style, markersize=3, label=f"{label} ({error:.3g})")
    ax.axvline(when[0], color="grey", linewidth=0.8)
    ax.set_title(f"The last {h} values forecast from one origin, and their RMSE")
    ax.set_ylabel(name)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.07), ncol=4, frameon=False)


def plot_future(
    history: np.ndarray,
    history_dates: np.ndarray | None,
    future: np.ndarray,
    future_dates: np.ndarray | None,
    name: str,
) -> Figure:
    """The end of the series followed by the forecast past it."""
    figure = Figure(figsize=(10, 4.5), layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.subplots()
    n = len(history)
    ax.plot(time_axis(history_dates, 0, n), history, color="black", label=name)
    when = future_dates if future_dates is not None else np.arange(n, n + len(future))
    ax.plot(when, future, "-o", markersize=3, label=f"forecast, {len(future)} steps")
    ax.set_title(f"{name}: forecast past the end of the data")
    ax.set_ylabel(name)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.07), ncol=5, frameon=False)
    return figure


class ForecastPlot(pl.Callback):
    """At test end (rank zero), the test-period figure in TensorBoard and as a PNG in the run
    directory. The model forecasts the whole test split itself, so the figure is complete even
    when DDP ranks each tested a shard."""

    def __init__(self, filename: str = "forecast_test.png") -> None:
        self.filename = filename

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        datamodule = trainer.datamodule
        if not trainer.is_global_zero or getattr(datamodule, "series", None) is None:
            return
        x, _, actual, baselines = datamodule.splits["test"]
        with torch.no_grad():
            units = pl_module.to_units(pl_module(x.to(pl_module.device)))  # (N, horizon)
        first_step = {
            "forecaster": units[:, 0].cpu().numpy(),
            "naive": baselines[:, 0, 0].cpu().numpy(),
            "seasonal naive": baselines[:, 1, 0].cpu().numpy(),
        }
        series = datamodule.series
        origin = getattr(pl_module, "origin_forecasts", None)
        figure = plot_test_period(
            series.values,
            series.dates,
            datamodule.starts["test"],
            first_step,
            series.name,
            (datamodule.origin.origin, origin) if origin else None,
        )
        path = Path(trainer.default_root_dir) / self.filename
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=100)
        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                logger.experiment.add_figure("test/forecast", figure, trainer.global_step, False)
        log.info("Forecast figure: %s", path)
