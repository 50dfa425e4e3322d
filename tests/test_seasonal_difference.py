"""The seasonal difference x_t − x_{t−m}: its exact inverse, the window net that predicts it,
and that a forecast from the origin reads nothing of the test period."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bp_app.data.series import AirlineDataModule, SeriesDataModule
from bp_app.data.series_csv import Series
from bp_app.errors import ConfigError
from bp_app.models.forecaster import Forecaster, WindowNet
from bp_app.models.seasonal_difference import seasonal_difference, undo_seasonal_difference

ADAM = {"optimizer": {"name": "adam"}}


def test_difference_by_hand():
    window = torch.tensor([[1.0, 2.0, 4.0, 7.0, 11.0]])  # (1, 5)
    # lag 2: 4 − 1, 7 − 2, 11 − 4
    assert seasonal_difference(window, 2).tolist() == [[3.0, 5.0, 7.0]]


@pytest.mark.parametrize("steps", [1, 4, 10])  # within one season, one whole, two and a half
def test_undo_is_the_exact_inverse(steps):
    lag, lookback = 4, 6
    series = torch.randint(-1000, 1000, (3, lookback + steps)).double()  # (B, L + s)
    changes = seasonal_difference(series, lag)[:, -steps:]  # d_{T+j} of the future values
    # Integers: x_{T+j−m} + (x_{T+j} − x_{T+j−m}) is exact, through every season it recurses.
    restored = undo_seasonal_difference(series[:, :lookback], changes, lag)
    assert torch.equal(restored, series[:, lookback:])
    noisy = torch.randn(3, lookback + steps, dtype=torch.float64)
    changes = seasonal_difference(noisy, lag)[:, -steps:]
    restored = undo_seasonal_difference(noisy[:, :lookback], changes, lag)
    torch.testing.assert_close(restored, noisy[:, lookback:], atol=1e-12, rtol=0)


@pytest.mark.parametrize("cell", ["lstm", "mlp"])
def test_seasonal_net_ignores_the_level(cell):
    torch.manual_seed(0)
    net = WindowNet(24, 12, cell, hidden_size=8, residual=False, seasonal_lag=12)
    x = torch.randn(5, 24, 1)  # (B, lookback, 1)
    assert net(x).shape == (5, 12)
    # It reads only x_t − x_{t−12} and adds its output to x_{T+j−12}: a shifted window
    # shifts the forecast alike.
    torch.testing.assert_close(net(x + 3.0), net(x) + 3.0, atol=1e-5, rtol=0)


def test_bad_seasonal_lag_names_the_fix():
    with pytest.raises(ConfigError, match="set model.residual=false"):
        WindowNet(24, 12, seasonal_lag=12, residual=True)
    with pytest.raises(ConfigError, match="between 1 and data.lookback - 1 = 11.*e.g. to 24"):
        WindowNet(12, 12, seasonal_lag=12, residual=False)


def seasonal_forecaster(data: SeriesDataModule) -> Forecaster:
    torch.manual_seed(0)
    inputs = data.model_inputs()
    return Forecaster(**inputs, residual=False, seasonal_lag=12, hidden_size=8, **ADAM)


def origin_forecast(model: Forecaster, data: SeriesDataModule) -> np.ndarray:
    """What on_test_epoch_end scores: h values from the origin, in the data's units."""
    window = model.scaler.transform(data.origin.history[-model.lookback :])
    scaled = model.forecast(torch.as_tensor(window), data.origin.horizon)
    return model.to_units(scaled).double().numpy()


def test_a_net_predicting_no_change_is_the_seasonal_naive_forecast():
    data = AirlineDataModule(lookback=24, horizon=36, output_steps=12, test_size=36)
    data.loaded()
    model = seasonal_forecaster(data)
    torch.nn.init.zeros_(model.net.head.weight)
    torch.nn.init.zeros_(model.net.head.bias)  # d̂ = 0 in every step
    np.testing.assert_allclose(
        origin_forecast(model, data), data.origin.baselines["seasonal_naive"], rtol=1e-5
    )


class Given(SeriesDataModule):
    def __init__(self, values: np.ndarray, **windows) -> None:
        super().__init__(**windows)
        self.values = values

    def load_series(self) -> Series:
        return Series(values=self.values, dates=None, name="given", source="test")


def test_the_forecast_from_the_origin_reads_nothing_after_it():
    values = AirlineDataModule().load_series().values
    changed = values.copy()
    changed[-36:] *= 10.0  # another future
    keys = {"lookback": 24, "horizon": 36, "output_steps": 12, "test_size": 36}
    data, other = Given(values, **keys), Given(changed, **keys)
    data.loaded(), other.loaded()
    for name in ("train", "val"):  # same windows, same scaler: the future is not in them
        for a, b in zip(data.splits[name], other.splits[name], strict=True):
            assert torch.equal(a, b)
    forecast = origin_forecast(seasonal_forecaster(data), data)
    assert np.array_equal(forecast, origin_forecast(seasonal_forecaster(other), other))
    assert not np.array_equal(data.origin.actual, other.origin.actual)
