"""bp-predict for forecasters: ``steps`` values past the end of the series the model trained on.

The checkpoint carries the scaler and the series' tail (``prediction_state`` of the series data
module), so nothing but the checkpoint is needed. Beyond the model's horizon the forecast is
recursive: forecasts are fed back in as the newest inputs.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

from bp_app.callbacks.forecast_plot import plot_future
from bp_app.data.scaling import Scaler
from bp_app.errors import ConfigError

log = logging.getLogger(__name__)

MAX_STEPS = 10_000  # a recursive forecast this long takes seconds; 1e8 steps took minutes, silent
PROGRESS_EVERY = 1_000


def future_dates(dates: list[str] | None, steps: int) -> np.ndarray | None:
    """The next ``steps`` dates, one last spacing apart (one month for monthly data)."""
    if not dates or len(dates) < 2:
        return None
    last = np.datetime64(dates[-1])
    spacing = last - np.datetime64(dates[-2])
    return last + spacing * np.arange(1, steps + 1)


def forecast_in_blocks(model: Any, window: torch.Tensor, steps: int, horizon: int) -> np.ndarray:
    """``model.forecast(window, steps)`` in blocks of whole horizons (the same values), with a
    progress line per block when the forecast is long."""
    block = horizon * max(1, PROGRESS_EVERY // horizon)
    values = window.clone()
    done: list[np.ndarray] = []
    made = 0
    while made < steps:
        part = model.forecast(values[-len(window) :], min(block, steps - made)).cpu().double()
        values = torch.cat([values[-len(window) :], part.to(values.dtype)])
        done.append(part.numpy())
        made += len(part)
        if steps > PROGRESS_EVERY:
            print(f"forecast: {made:,} of {steps:,} steps", file=sys.stderr, flush=True)
    return np.concatenate(done)


def predict(model: Any, checkpoint: dict[str, Any], cfg: DictConfig) -> list[dict[str, Any]]:
    """Forecast ``cfg.steps`` values (the model's horizon when unset), print and plot them."""
    state = checkpoint["bp_app"]["data_state"]
    steps = cfg.get("steps")
    steps = state["horizon"] if steps is None else steps
    if not isinstance(steps, int) or isinstance(steps, bool) or not 1 <= steps <= MAX_STEPS:
        raise ConfigError(
            f"steps={steps!r} must be a positive whole number, at most {MAX_STEPS:,}, e.g. "
            "steps=24 "
            "(past a few horizons a recursive forecast only feeds on its own guesses)"
        )
    scaler = Scaler.from_state(state["scaler"])
    history = np.asarray(state["history"], dtype=np.float64)
    window = torch.as_tensor(scaler.transform(history[-state["lookback"] :]))
    future = scaler.inverse(forecast_in_blocks(model, window, steps, state["horizon"]))
    dates = future_dates(state["dates"], steps)

    name = state["name"]
    outputs = state.get("output_steps", state["horizon"])  # older checkpoints: one head size
    recursive = " (recursive past the model's output steps)" if steps > outputs else ""
    print(f"Forecast of {name}, {steps} steps past the end of {state['source']}{recursive}:")
    labels = [str(d) for d in dates] if dates is not None else [f"+{i + 1}" for i in range(steps)]
    for label, value in zip(labels, future, strict=True):
        print(f"{label}\t{value:.4g}")

    history_dates = (
        np.array([np.datetime64(d) for d in state["dates"]]) if dates is not None else None
    )
    figure = plot_future(history, history_dates, future, dates, name)
    path = Path(cfg.paths.run_dir) / "forecast.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    print(f"Figure: {path}")
    return [
        {"step": i + 1, "date": label if dates is not None else None, "value": float(value)}
        for i, (label, value) in enumerate(zip(labels, future, strict=True))
    ]
