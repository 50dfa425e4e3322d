"""The h-step forecast from one origin: its metrics, the baselines beside it (statsforecast's
AutoARIMA, AutoETS and AutoTheta against the issue's figures), and a bp-train run printing them."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import numpy as np
import pytest

from bp_app.data.horizon_eval import horizon_metrics, origin_forecasts
from bp_app.data.series import AirlineDataModule, SeriesDataModule
from bp_app.data.series_csv import Series
from bp_app.data.stat_baselines import INSTALL_HINT, STAT_MODELS, check_names, stat_forecasts
from bp_app.errors import ConfigError
from bp_app.train import train
from tests.conftest import FAST

# statsforecast 2.1.1 on the shipped series, season 12, fitted on all months before the origin:
# RMSE of the last h months (issue 19's table, reproduced to 0.1).
ANCHORS = {
    12: {"AutoARIMA": 23.9, "AutoETS": 40.1, "AutoTheta": 25.0},
    24: {"AutoARIMA": 74.2, "AutoETS": 78.4, "AutoTheta": 58.7},
    36: {"AutoARIMA": 22.1, "AutoETS": 70.8, "AutoTheta": 29.8},
}


def airline_values() -> np.ndarray:
    data = AirlineDataModule(lookback=12, horizon=1, val_size=12, test_size=24)
    return data.load_series().values


def test_metrics_by_hand():
    metrics = horizon_metrics(np.array([110.0, 190.0]), np.array([100.0, 200.0]))
    assert metrics == pytest.approx({"rmse": 10.0, "mae": 10.0, "mape": 7.5})  # (10% + 5%) / 2


def test_origin_is_h_before_the_end_with_the_naive_baselines():
    values = 100.0 + np.arange(30)
    origin = origin_forecasts(values, horizon=5, season=4, stat_models=[])
    assert origin.origin == 25 and origin.horizon == 5 and origin.history[-1] == 124.0
    np.testing.assert_array_equal(origin.actual, [125, 126, 127, 128, 129])
    np.testing.assert_array_equal(origin.baselines["naive"], [124] * 5)
    # One season (4) back from known values only: y_21..y_24, then y_21 again.
    np.testing.assert_array_equal(origin.baselines["seasonal_naive"], [121, 122, 123, 124, 121])
    assert set(origin.baselines) == {"naive", "seasonal_naive"}


def test_statsforecast_anchors_match_the_issue_table():
    pytest.importorskip(
        "statsforecast", reason="the forecast extra: pip install 'bp_app[forecast]'"
    )
    values = airline_values()
    for h, expected in ANCHORS.items():
        forecasts = stat_forecasts(values[:-h], h, 12, STAT_MODELS)
        got = {n: round(horizon_metrics(f, values[-h:])["rmse"], 1) for n, f in forecasts.items()}
        assert got == expected, h


def test_without_statsforecast_the_run_says_what_was_skipped(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "statsforecast", None)  # import statsforecast fails
    with caplog.at_level(logging.WARNING):
        assert stat_forecasts(np.arange(40.0), 6, 12, ["AutoETS", "AutoTheta"]) == {}
    assert "AutoETS, AutoTheta" in caplog.text and INSTALL_HINT in caplog.text


def test_unknown_anchor_and_bad_output_steps_fail_at_start():
    with pytest.raises(ConfigError, match=r"'Prophet'; choose from: AutoARIMA, AutoETS"):
        check_names(["AutoARIMA", "Prophet"])
    with pytest.raises(
        ConfigError, match="data.output_steps=13 must be between 1 and data.horizon"
    ):
        AirlineDataModule(horizon=12, output_steps=13)
    with pytest.raises(ConfigError, match="data.test_size=24 must be at least data.horizon=36"):
        AirlineDataModule(horizon=36, output_steps=1, test_size=24)
    with pytest.raises(ConfigError, match="data.val_size=12 must be at least data.output_steps=24"):
        AirlineDataModule(horizon=24, output_steps=24, val_size=12)


class Trend(SeriesDataModule):
    def load_series(self) -> Series:
        return Series(np.arange(60.0), None, "trend", "a trend")


def test_recursive_windows_are_one_step_and_the_origin_covers_the_horizon():
    data = Trend(lookback=6, horizon=12, output_steps=1, val_size=6, test_size=12, season=6)
    data.loaded()
    assert data.splits["train"][1].shape[1] == 1  # (N, 1): the net learns one step
    assert data.model_inputs()["horizon"] == 1 and data.prediction_state()["horizon"] == 12
    assert data.origin.origin == 48 and len(data.origin.actual) == 12


def test_bp_train_prints_the_forecaster_beside_the_anchors(train_config, caplog):
    pytest.importorskip(
        "statsforecast", reason="the forecast extra: pip install 'bp_app[forecast]'"
    )
    cfg = train_config(["experiment=airline_forecast", "data.horizon=12", *FAST])
    with caplog.at_level(logging.INFO):
        metrics = train(cfg)
    assert metrics["test/rmse_h_autoarima"] == pytest.approx(23.9, abs=0.05)
    assert metrics["test/rmse_h_seasonal_naive"] == pytest.approx(50.7, abs=0.05)
    assert {"test/rmse_h", "test/mae_h", "test/mape_h", "test/rmse_h_naive"} <= set(metrics)
    assert {"test/rmse_h_autoets", "test/rmse_h_autotheta", "test/rmse"} <= set(metrics)
    line = next(r.message for r in caplog.records if "forecast from one origin" in r.message)
    assert "RMSE of the last 12 values" in line and "AutoTheta 25.0" in line
    assert "forecaster" in line
    written = json.loads((Path(cfg.paths.run_dir) / "metrics.json").read_text())
    assert written["test/rmse_h"] == metrics["test/rmse_h"] > 0
