"""Forecast figures: the test period against the baselines (at test end), and a forecast past
the end of the data (bp-predict). Drawn with matplotlib's Agg canvas: no display needed."""

from __future__ import annotations

import logging
from pathlib import Path

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
) -> Figure:
    """The series and, at the test targets ``starts``, each one-step forecast with its RMSE."""
    figure = Figure(figsize=(10, 4.5), layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.subplots()
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
    return figure


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
        figure = plot_test_period(
            series.values, series.dates, datamodule.starts["test"], first_step, series.name
        )
        path = Path(trainer.default_root_dir) / self.filename
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=100)
        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                logger.experiment.add_figure("test/forecast", figure, trainer.global_step, False)
        log.info("Forecast figure: %s", path)
