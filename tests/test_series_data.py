"""Series data: windows without leakage, scaling fitted on train only, the naive baselines."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bp_app.data.scaling import Scaler
from bp_app.data.series import AirlineDataModule, SeriesDataModule, SineDataModule
from bp_app.data.series_csv import Series
from bp_app.data.windows import naive_forecast, seasonal_naive_forecast
from bp_app.errors import ConfigError, DataError


class CountingSeries(SeriesDataModule):
    """y_t = 100 + t: every value names its own position, so leaks are easy to see."""

    def __init__(self, length: int, **windows) -> None:
        super().__init__(**windows)
        self.length = length

    def load_series(self) -> Series:
        values = 100.0 + np.arange(self.length)
        return Series(values=values, dates=None, name="count", source="counting")


@pytest.mark.parametrize("horizon", [1, 3])
def test_windows_respect_time(horizon):
    data = CountingSeries(60, lookback=5, horizon=horizon, val_size=8, test_size=10, season=4)
    splits = data.loaded()
    train_end, val_end = 60 - 10 - 8, 60 - 10
    periods = {"train": (0, train_end), "val": (train_end, val_end), "test": (val_end, 60)}
    for name, (first, stop) in periods.items():
        starts = data.starts[name]
        # Every target of a split lies inside its own period: nothing from the future.
        assert starts.min() >= max(first, 5) and starts.max() + horizon <= stop
        inputs, targets = (data.scaler.inverse(t.double()).numpy() for t in splits[name][:2])
        t = starts[:, None]
        np.testing.assert_allclose(inputs[..., 0], 100 + t + np.arange(-5, 0), atol=1e-4)
        np.testing.assert_allclose(targets, 100 + t + np.arange(horizon), atol=1e-4)
        # Consecutive windows: each period's targets are covered once as a first step.
        assert len(starts) == stop - max(first, 5) - horizon + 1
    # The last test_size points are exactly the test targets.
    test_targets = data.starts["test"][:, None] + np.arange(horizon)
    assert set(test_targets.ravel()) == set(range(50, 60))
    assert (data.starts["train"] + horizon <= train_end).all()


def test_scaler_sees_only_the_training_part():
    # A jump in the test period must not move the training statistics.
    data = CountingSeries(40, lookback=3, val_size=5, test_size=5, scaling="standard", season=2)
    data.loaded()
    train_part = 100.0 + np.arange(30)
    assert data.scaler.shift == pytest.approx(train_part.mean())
    assert data.scaler.scale == pytest.approx(train_part.std())
    x_train = data.splits["train"][0]
    assert x_train.mean().abs() < 0.2  # standardized on its own period


@pytest.mark.parametrize("method", ["standard", "minmax", "log_standard"])
def test_scaling_inverts(method):
    train = np.array([112.0, 118.0, 132.0, 129.0, 121.0])
    scaler = Scaler.fit(method, train)
    later = np.array([300.0, 622.0, 99.0])  # outside the training range: still invertible
    np.testing.assert_allclose(scaler.inverse(scaler.transform(later)), later)
    as_tensor = torch.tensor(scaler.transform(later))
    np.testing.assert_allclose(scaler.inverse(as_tensor).numpy(), later)
    fitted = scaler.transform(train)
    if method == "minmax":
        assert fitted.min() == pytest.approx(0.0) and fitted.max() == pytest.approx(1.0)
    else:
        assert fitted.mean() == pytest.approx(0.0, abs=1e-12)
        assert fitted.std() == pytest.approx(1.0)
    restored = Scaler.from_state(scaler.state())
    np.testing.assert_allclose(restored.transform(later), scaler.transform(later))


def test_log_scaling_refuses_non_positive_values():
    with pytest.raises(DataError, match="positive values.*data.scaling=standard"):
        Scaler.fit("log_standard", np.array([3.0, 0.0, 2.0]), "sales.csv")
    with pytest.raises(ConfigError, match="standard, minmax, log_standard"):
        Scaler("zscore")


def test_baselines_by_hand():
    series = np.array([10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0])
    starts = np.array([4, 5])  # targets y_4 = 50 and y_5 = 60 (and y_6 with horizon 2)
    np.testing.assert_array_equal(naive_forecast(series, starts, 1), [[40.0], [50.0]])
    np.testing.assert_array_equal(naive_forecast(series, starts, 2), [[40.0, 40.0], [50.0, 50.0]])
    # Season 3: y_4 <- y_1 = 20, y_5 <- y_2 = 30.
    np.testing.assert_array_equal(seasonal_naive_forecast(series, starts, 1, 3), [[20.0], [30.0]])
    # Season 2, horizon 3 from t = 4 (last known y_3): y_4 <- y_2, y_5 <- y_3, y_6 <- y_2 again.
    np.testing.assert_array_equal(
        seasonal_naive_forecast(series, np.array([4]), 3, 2), [[30.0, 40.0, 30.0]]
    )
    with pytest.raises(DataError, match="data.season"):
        seasonal_naive_forecast(series, np.array([2]), 1, 3)


def test_airline_baselines_match_the_published_figures():
    """Last 24 months, one step ahead: naive RMSE 51.8, seasonal naive 50.0."""
    data = AirlineDataModule(lookback=12, horizon=1, val_size=12, test_size=24, season=12)
    data.loaded()
    assert len(data.series.values) == 144 and data.series.values.sum() == 40363
    assert str(data.series.dates[0]) == "1949-01" and str(data.series.dates[-1]) == "1960-12"
    _, _, actual, baselines = data.splits["test"]
    assert len(actual) == 24
    assert actual[0, 0] == 360.0  # 1959-01
    rmse = ((baselines - actual[:, None, :]) ** 2).mean(dim=(0, 2)).sqrt()
    assert round(rmse[0].item(), 1) == 51.8
    assert round(rmse[1].item(), 1) == 50.0


def test_sine_is_fixed_by_its_noise_seed():
    a = SineDataModule(length=300, period=25, noise=0.2, noise_seed=3, lookback=10, season=25)
    b = SineDataModule(length=300, period=25, noise=0.2, noise_seed=3, lookback=10, season=25)
    np.testing.assert_array_equal(a.load_series().values, b.load_series().values)
    residual = a.load_series().values - np.sin(2 * np.pi * np.arange(300) / 25)
    assert residual.std() == pytest.approx(0.2, rel=0.15)


def test_model_inputs_and_prediction_state_are_plain():
    data = CountingSeries(40, lookback=4, horizon=2, val_size=4, test_size=4, season=3)
    inputs = data.model_inputs()
    assert inputs["lookback"] == 4 and inputs["horizon"] == 2
    state = data.prediction_state()
    assert state["history"][-1] == 139.0 and state["dates"] is None
    assert state["scaler"] == data.scaler.state()


def test_bad_window_settings_fail_at_start():
    with pytest.raises(ConfigError, match="data.test_size=1 must be at least data.horizon=2"):
        CountingSeries(40, horizon=2, test_size=1)
    with pytest.raises(ConfigError, match="data.lookback must be >= 1"):
        CountingSeries(40, lookback=0)
