"""scripts/airline_backtest.py, the rule that picks the h = 36 airline settings: the series it
reads stops at 1957-12, each origin forecasts from the month it should, the RMSSE scale and the
pick are what its docstring says. No training run."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bp_app.config.build import build_datamodule
from bp_app.data.series_csv import read_series_csv
from bp_app.errors import DataError
from tests.conftest import REPO
from tests.scripts import load_script

backtest = load_script("airline_backtest")


def test_the_backtest_series_is_the_shipped_one_up_to_1957_12(tmp_path):
    path = backtest.write_backtest_series(tmp_path)
    series = read_series_csv(path, value_column="passengers", date_column="month")
    shipped = read_series_csv(
        REPO / "bp_app" / "data" / "airline_passengers.csv", "passengers", "month"
    )
    assert len(series.values) == 108
    assert str(series.dates[0]) == "1949-01" and str(series.dates[-1]) == "1957-12"
    assert np.array_equal(series.values, shipped.values[:108])


FIRST_FORECAST_MONTH = {"1954-12": "1955-01", "1955-12": "1956-01", "1956-12": "1957-01"}


@pytest.mark.parametrize("month", sorted(FIRST_FORECAST_MONTH))
def test_each_origin_forecasts_from_the_month_after_it_through_1957_12(
    train_config, tmp_path, month
):
    h = backtest.ORIGINS[month]
    path = backtest.write_backtest_series(tmp_path / "series")
    # The candidate's own test_size (as in HORIZONS[36]) gives way to the origin's.
    candidate = [*backtest.CANDIDATES[0][1], "data.test_size=36"]
    cfg = train_config(backtest.origin_overrides(candidate, h, path))
    assert cfg.data.horizon == cfg.data.test_size == h
    assert cfg.data.lookback == 30 and cfg.model.seasonal_lag == 12  # the candidate's own
    data = build_datamodule(cfg)
    data.loaded()
    origin = data.origin
    assert str(data.series.dates[origin.origin]) == FIRST_FORECAST_MONTH[month]
    assert origin.horizon == h and origin.origin + h == 108
    assert str(data.series.dates[origin.origin - 1]) == month


def test_the_direct_head_validates_on_h_months_and_has_no_room_at_the_36_month_origin(
    train_config, tmp_path
):
    path = backtest.write_backtest_series(tmp_path)
    direct = dict(backtest.CANDIDATES)["lstm_log_direct"]
    cfg = train_config(backtest.origin_overrides(direct, 24, path))
    assert cfg.data.output_steps is None and cfg.data.val_size == 24
    # 12 lookback + 36 targets + 36 validation + 36 test months = 120 > 108: no score.
    with pytest.raises(DataError, match="108 points, too few"):
        build_datamodule(train_config(backtest.origin_overrides(direct, 36, path))).loaded()


def test_rmsse_scale_is_the_seasonal_naive_rmse_before_the_origin():
    # Season 2: y_t − y_{t−2} = 4−1, 3−2, 7−4, 5−3 = 3, 1, 3, 2; mean square 23/4.
    assert backtest.rmsse_scale(np.array([1.0, 2.0, 4.0, 3.0, 7.0, 5.0]), 2) == pytest.approx(
        math.sqrt(23 / 4)
    )
    with pytest.raises(ValueError, match="needs more than 12"):
        backtest.rmsse_scale(np.arange(12.0))


def test_pick_is_the_lowest_mean_and_a_tie_goes_to_the_earlier():
    assert backtest.pick([3.0, 1.0, 2.0]) == 1
    assert backtest.pick([2.0, 1.5, 1.5, 1.7]) == 1
    assert backtest.pick([None, 2.0, 0.5]) == 2  # no score (a failed run) is never picked
    assert backtest.pick([None, 2.0, None]) == 1
    with pytest.raises(ValueError, match="no candidate has a score"):
        backtest.pick([None, None])


def test_a_candidate_scores_the_mean_of_every_origin_and_seed_or_nothing():
    names = [name for name, _ in backtest.CANDIDATES]
    months = list(backtest.ORIGINS)
    results = {
        names[0]: {m: [1.0, 2.0, 3.0] for m in months},
        names[1]: {months[0]: [1.0, 1.0, 1.0], months[1]: [2.0, 2.0, 2.0], months[2]: [6.0] * 3},
        names[2]: {months[0]: [0.1] * 3, months[1]: [0.1] * 3},  # one origin failed
    }
    scores = backtest.scores(results)
    assert scores[:3] == [2.0, 3.0, None] and all(s is None for s in scores[3:])
    rows = backtest.table(results, {"AutoARIMA": dict(zip(months, (1.0, 2.0, 3.0), strict=True))})
    lines = rows.splitlines()
    assert lines[2] == "| 0 | incumbent | 2.000 | 0.866 | 2.000 | 2.000 | 2.000 |"
    assert lines[4].startswith(f"| 2 | {names[2]} | n/a | n/a | 0.100 | 0.100 | n/a |")
    assert lines[-1] == "| ref | AutoARIMA | 2.000 | - | 1.000 | 2.000 | 3.000 |"


def test_the_incumbent_is_candidate_0_and_no_candidate_sets_what_the_origin_sets():
    name, overrides = backtest.CANDIDATES[0]
    # HORIZONS[36] of scripts/airline_horizons.py before the backtest, less data.test_size=36.
    assert name == "incumbent" and overrides == [
        "data.output_steps=12",
        "data.scaling=standard",
        "data.lookback=30",
        "model.cell=mlp",
        "model.residual=false",
        "model.seasonal_lag=12",
    ]
    names = [n for n, _ in backtest.CANDIDATES]
    assert len(set(names)) == len(names) == 18
    for _, overrides in backtest.CANDIDATES:
        keys = [o.split("=", 1)[0] for o in overrides]
        assert len(set(keys)) == len(keys)
        assert not {"data.horizon", "data.test_size", "data.path", "seed"} & set(keys)


def test_the_shipped_h36_settings_are_the_candidate_the_backtest_picked():
    horizons = load_script("airline_horizons")
    shipped = [o for o in horizons.HORIZONS[36] if o != "data.test_size=36"]
    # The pick printed by the backtest of 2026-12-03 (docs/realdata.md has its table).
    assert sorted(shipped) == sorted(dict(backtest.CANDIDATES)["mlp_log_residual"])
