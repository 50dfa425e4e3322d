"""The forecaster: window networks, recursive forecasts, and a sine run through bp-train."""

from __future__ import annotations

import json

import pytest
import torch
from omegaconf import OmegaConf

from bp_app.config.checks import check_train_config
from bp_app.errors import ConfigError, DataError
from bp_app.models.forecaster import Forecaster, WindowNet
from bp_app.predictors import windows as windows_predictor
from bp_app.runs.checkpoints import load_checkpoint, load_model
from bp_app.train import train
from tests.conftest import FAST, REPO, run_command

IDENTITY = {"method": "standard", "shift": 0.0, "scale": 1.0}


@pytest.mark.parametrize("cell", ["lstm", "gru", "mlp"])
def test_window_net_maps_a_window_to_the_horizon(cell):
    net = WindowNet(lookback=12, horizon=3, cell=cell, hidden_size=8, num_layers=2)
    x = torch.randn(5, 12, 1)  # (B, lookback, 1)
    assert net(x).shape == (5, 3)
    # residual: the net sees x − x_T, so shifting the window shifts the forecast alike.
    torch.testing.assert_close(net(x + 2.5), net(x) + 2.5, atol=1e-5, rtol=0)


def test_unknown_cell_names_the_choices():
    with pytest.raises(ConfigError, match="lstm, gru, mlp"):
        WindowNet(lookback=4, horizon=1, cell="transformer")


class CountUp(torch.nn.Module):
    """Predicts x_T + 1, ..., x_T + h: makes the recursion's bookkeeping visible."""

    def __init__(self, horizon: int) -> None:
        super().__init__()
        self.horizon = horizon

    def forward(self, x):
        return x[:, -1, :] + torch.arange(1, self.horizon + 1)  # (B, horizon)


def test_forecast_recurses_beyond_the_horizon():
    model = Forecaster(lookback=3, horizon=2, scaler=IDENTITY, optimizer={"name": "adam"})
    model.net = CountUp(horizon=2)
    # Window [0, 1, 2]: forecasts [3, 4], then [5, 6] from the window [2, 3, 4], then [7, 8].
    steps = model.forecast(torch.tensor([0.0, 1.0, 2.0]), steps=5)
    torch.testing.assert_close(steps, torch.tensor([3.0, 4.0, 5.0, 6.0, 7.0]))
    assert model.forecast(torch.tensor([0.0, 1.0, 2.0]), steps=1).tolist() == [3.0]


def test_forecaster_needs_windows(train_config):
    cfg = train_config(["model=forecaster", "data=digits"])
    with pytest.raises(ConfigError, match="data=airline, data=series_csv, data=sine"):
        check_train_config(cfg)


def test_bad_csv_stops_training_with_the_line(train_config, tmp_path):
    csv = tmp_path / "bad.csv"
    csv.write_text("value\n" + "\n".join(["1.0"] * 30 + ["oops"] + ["2.0"] * 30) + "\n")
    cfg = train_config(["model=forecaster", "data=series_csv", f"data.path={csv}", *FAST])
    with pytest.raises(DataError, match=r"bad\.csv line 32, column 'value': 'oops'"):
        train(cfg)


def test_sine_end_to_end_beats_the_noise(tmp_path):
    """bp-train experiment=sine_forecast, shortened; then bp-predict's forecaster path."""
    run_dir = tmp_path / "sine"
    result = run_command(
        "bp_app.train",
        [
            "experiment=sine_forecast",
            "trainer.max_epochs=4",
            "data.horizon=3",
            "trainer.enable_progress_bar=false",
            "trainer.enable_model_summary=false",
            "trainer.accelerator=cpu",
            f"hydra.run.dir={run_dir}",
        ],
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    noise = 0.1
    assert metrics["test/rmse"] < 1.5 * noise, metrics
    assert metrics["test/rmse"] < metrics["test/rmse_naive"], metrics
    assert {"val/rmse", "val/loss", "test/mae", "test/rmse_seasonal_naive"} <= set(metrics)
    assert (run_dir / "forecast_test.png").stat().st_size > 10_000

    # Forecast 7 steps past the end with a horizon of 3: three calls, the last cut short.
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    checkpoint = load_checkpoint(ckpt)
    model = load_model(ckpt, checkpoint)
    cfg = OmegaConf.create({"steps": 7, "paths": {"run_dir": str(tmp_path / "predict")}})
    rows = windows_predictor.predict(model, checkpoint, cfg)
    assert [row["step"] for row in rows] == list(range(1, 8))
    assert all(abs(row["value"]) < 1.6 for row in rows)  # a sine of amplitude 1 plus noise
    assert (tmp_path / "predict" / "forecast.png").is_file()
    with pytest.raises(ConfigError, match="steps=0 must be a positive whole number"):
        windows_predictor.predict(model, checkpoint, OmegaConf.create({"steps": 0}))
