"""The statistical anchors of forecasting, fitted with statsforecast (the ``forecast`` extra):
AutoARIMA, AutoETS and AutoTheta, each choosing its own orders by information criterion.

They are fitted once per run, on the values before the forecast origin, with the data's season
length, and forecast the same months the forecaster is judged on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from bp_app.errors import ConfigError

log = logging.getLogger(__name__)

STAT_MODELS = ("AutoARIMA", "AutoETS", "AutoTheta")
INSTALL_HINT = "pip install 'bp_app[forecast]' (statsforecast) adds them"


def check_names(names: Sequence[str]) -> list[str]:
    """The configured anchors, each one of STAT_MODELS; anything else is a ConfigError."""
    names = list(names)
    unknown = [n for n in names if n not in STAT_MODELS]
    if unknown:
        raise ConfigError(
            f"data.stat_baselines has {', '.join(map(repr, unknown))}; choose from: "
            f"{', '.join(STAT_MODELS)} (or [] for none)"
        )
    return names


def stat_forecasts(
    history: np.ndarray, steps: int, season: int, names: Sequence[str]
) -> dict[str, np.ndarray]:
    """Each named model fitted on ``history`` and its forecast of the next ``steps`` values.

    Without statsforecast, or where a model cannot fit this series, that model is skipped with
    a warning that says why and how to add it: the forecaster's own figures never depend on it.
    """
    if not names:
        return {}
    try:
        import pandas as pd
        import statsforecast.models as models
        from statsforecast import StatsForecast
    except ImportError:
        log.warning(
            "Baselines skipped: %s (statsforecast is not installed); %s.",
            ", ".join(names),
            INSTALL_HINT,
        )
        return {}
    frame = pd.DataFrame(
        {"unique_id": "series", "ds": np.arange(len(history)), "y": np.asarray(history, float)}
    )
    forecasts: dict[str, np.ndarray] = {}
    for name in names:
        try:
            model = getattr(models, name)(season_length=season)
            fitted = StatsForecast(models=[model], freq=1, n_jobs=1).forecast(df=frame, h=steps)
            forecasts[name] = fitted[name].to_numpy(dtype=np.float64)
        except Exception as error:  # statsforecast raises ValueError and others on short series
            log.warning(
                "Baseline %s skipped: it could not be fitted on %d values (%s).",
                name,
                len(history),
                error,
            )
    return forecasts
