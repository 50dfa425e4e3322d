"""The test period as one multi-step forecast from a fixed origin, as forecasters are compared.

The origin T is ``horizon`` values before the end of the series: everything before T is known,
the last h = ``horizon`` values are forecast in one go and scored against what happened

    RMSE_h = sqrt((1/h) Σ_j (ŷ_{T+j} − y_{T+j})²)     MAE_h = (1/h) Σ_j |ŷ_{T+j} − y_{T+j}|
    MAPE_h = (100/h) Σ_j |ŷ_{T+j} − y_{T+j}| / |y_{T+j}|           (j = 0 .. h−1)

beside the naive and seasonal-naive forecasts from the same origin and, with the ``forecast``
extra, AutoARIMA, AutoETS and AutoTheta fitted on the values before T.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bp_app.data.stat_baselines import stat_forecasts
from bp_app.data.windows import naive_forecast, seasonal_naive_forecast


@dataclass
class OriginForecasts:
    """What is known at the origin and the baselines' forecasts of the h values after it."""

    origin: int  # index T of the first forecast value
    history: np.ndarray  # (T,) values y_0 .. y_{T−1}, in the data's units
    actual: np.ndarray  # (h,) values y_T .. y_{T+h−1}
    baselines: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (h,)

    @property
    def horizon(self) -> int:
        return len(self.actual)


def origin_forecasts(
    values: np.ndarray, horizon: int, season: int, stat_models: Sequence[str]
) -> OriginForecasts:
    """The last ``horizon`` values of ``values`` as the forecast target, with every baseline."""
    origin = len(values) - horizon
    start = np.array([origin])
    baselines = {
        "naive": naive_forecast(values, start, horizon)[0],
        "seasonal_naive": seasonal_naive_forecast(values, start, horizon, season)[0],
    }
    baselines |= stat_forecasts(values[:origin], horizon, season, stat_models)
    return OriginForecasts(origin, values[:origin], values[origin:], baselines)


def horizon_metrics(forecast: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    """RMSE, MAE and MAPE (percent) of an h-step forecast, as defined above."""
    error = np.asarray(forecast, np.float64) - np.asarray(actual, np.float64)
    with np.errstate(divide="ignore"):
        mape = 100.0 * float(np.mean(np.abs(error) / np.abs(actual)))
    return {
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mae": float(np.mean(np.abs(error))),
        "mape": mape,
    }
