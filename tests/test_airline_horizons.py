"""scripts/airline_horizons.py: each horizon's overrides build a forecaster that forecasts h
months from the origin, and the table row is the seeds' mean ± sd beside the anchors; and
experiment=fashion_cnn keeps the lecture's network under its cosine schedule."""

from __future__ import annotations

import pytest
import torch

from bp_app.config.build import build_datamodule, build_model
from tests.scripts import load_script

HORIZONS = load_script("airline_horizons").HORIZONS


@pytest.mark.parametrize("h", sorted(HORIZONS))
def test_each_horizon_builds_and_forecasts_h_months(train_config, h):
    cfg = train_config(
        ["experiment=airline_forecast", f"data.horizon={h}", *HORIZONS[h], "data.stat_baselines=[]"]
    )
    data = build_datamodule(cfg)
    model = build_model(cfg, data)
    x, y = data.loaded()["train"][:2]
    assert model(x[:4]).shape == y[:4].shape == (4, data.output_steps)
    origin = data.origin
    assert origin.horizon == h and len(origin.actual) == h
    window = torch.as_tensor(data.scaler.transform(origin.history[-data.lookback :]))
    forecast = model.forecast(window, h)  # recursive past the head where output_steps < h
    assert forecast.shape == (h,) and torch.isfinite(forecast).all()


def test_h36_is_the_backtest_pick_an_mlp_on_the_log_scale_predicting_the_change(train_config):
    cfg = train_config(["experiment=airline_forecast", "data.horizon=36", *HORIZONS[36]])
    assert cfg.data.scaling == "log_standard" and cfg.model.residual and cfg.data.lookback == 12
    assert cfg.model.seasonal_lag is None
    assert cfg.model.cell == "mlp" and cfg.data.output_steps == 12 and cfg.data.test_size == 36


def test_row_is_mean_sd_range_beside_each_anchor():
    script = load_script("airline_horizons")
    anchors = {f"test/rmse_h_{b}": float(i) for i, b in enumerate(script.BASELINES, start=1)}
    runs = [{"test/rmse_h": e, **anchors} for e in (20.0, 22.0, 24.0)]
    assert script.row(36, runs) == "| 36 | 22.0 ± 2.0 (20.0-24.0) | 1.0 | 2.0 | 3.0 | 4.0 | 5.0 |"
    missing = script.row(12, [{"test/rmse_h": 7.0}])  # no statsforecast: nan, one seed: sd 0
    assert missing == "| 12 | 7.0 ± 0.0 (7.0-7.0) | nan | nan | nan | nan | nan |"


def test_fashion_cnn_is_the_lecture_network_annealed_over_its_epochs(train_config):
    cfg = train_config(["experiment=fashion_cnn"])
    assert cfg.scheduler.name == "cosine" and cfg.scheduler.T_max is None
    assert cfg.trainer.max_epochs == 10 and cfg.optimizer.lr == 1.0e-3
    model = cfg.model
    assert list(model.channels) == [32] and list(model.hidden_sizes) == [128]
    assert model.padding == "valid" and not model.batch_norm and model.dropout == 0.0
