"""The airline series end to end: bp-train beats both baselines, bp-predict forecasts 1961-62."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from bp_app.predictors.windows import future_dates
from tests.conftest import REPO, run_command

QUIET = [
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "trainer.accelerator=cpu",
]


@pytest.fixture(scope="module")
def airline_run(tmp_path_factory) -> Path:
    """bp-train experiment=airline_forecast, with fewer epochs (the full run takes 200)."""
    run_dir = tmp_path_factory.mktemp("airline") / "run"
    result = run_command(
        "bp_app.train",
        [
            "experiment=airline_forecast",
            "trainer.max_epochs=30",
            *QUIET,
            f"hydra.run.dir={run_dir}",
        ],
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir


def test_airline_forecaster_beats_both_baselines(airline_run):
    metrics = json.loads((airline_run / "metrics.json").read_text())
    # The baselines on the last 24 months, one step ahead, as published for this split.
    assert round(metrics["test/rmse_naive"], 1) == 51.8
    assert round(metrics["test/rmse_seasonal_naive"], 1) == 50.0
    assert metrics["test/rmse"] < metrics["test/rmse_seasonal_naive"], metrics
    assert metrics["test/mae"] <= metrics["test/rmse"]


def test_airline_figure_in_run_dir_and_tensorboard(airline_run):
    assert (airline_run / "forecast_test.png").stat().st_size > 10_000
    images = set()
    for events in (airline_run / "tensorboard").rglob("events.out.tfevents.*"):
        accumulator = EventAccumulator(str(events))
        accumulator.Reload()
        images |= set(accumulator.Tags()["images"])
    assert "test/forecast" in images


def test_bp_predict_forecasts_two_years(airline_run, tmp_path):
    ckpt = next((airline_run / "checkpoints").glob("best-*.ckpt"))
    result = run_command(
        "bp_app.predict", [f"ckpt_path={ckpt}", "steps=24", f"hydra.run.dir={tmp_path}"], cwd=REPO
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line.split("\t") for line in result.stdout.splitlines() if "\t" in line]
    assert [date for date, _ in lines] == [f"{1961 + i // 12}-{i % 12 + 1:02d}" for i in range(24)]
    values = np.array([float(value) for _, value in lines])
    # Passengers kept growing: the forecast stays in a plausible band above the 1960 low (390).
    assert (values > 300).all() and (values < 1000).all()
    assert "recursive" in result.stdout
    assert (tmp_path / "forecast.png").is_file()


def test_future_dates_follow_the_last_spacing():
    monthly = future_dates(["1960-11", "1960-12"], 3)
    assert [str(d) for d in monthly] == ["1961-01", "1961-02", "1961-03"]
    weekly = future_dates(["2024-01-01", "2024-01-08"], 2)
    assert [str(d) for d in weekly] == ["2024-01-15", "2024-01-22"]
    assert future_dates(None, 3) is None
