"""``model=forecaster``: an LSTM, GRU or MLP reads a window of a series and predicts the next
``horizon`` values; MSE loss on the scaled series, metrics in the data's own units."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MeanAbsoluteError, MeanSquaredError

from bp_app.backprop.explicit.engine import ExplicitBackpropMixin
from bp_app.callbacks.forecast_plot import ForecastPlot
from bp_app.data.horizon_eval import horizon_metrics
from bp_app.data.scaling import Scaler
from bp_app.errors import ConfigError
from bp_app.models.seasonal_difference import seasonal_difference, undo_seasonal_difference

log = logging.getLogger(__name__)

CELLS = ("lstm", "gru", "mlp")


class WindowNet(nn.Module):
    """Window (B, lookback, 1) -> the next ``horizon`` values (B, horizon), on the scaled series.

    With ``residual`` the net sees the window relative to its last value x_T and predicts the
    change from it, ŷ = x_T + f(x − x_T): on a log-scaled series that makes the net blind to the
    level, so a trend that leaves the training range is still in familiar territory.
    With ``seasonal_lag`` m the net reads the window's seasonal differences x_t − x_{t−m} and
    predicts those of the next values, ŷ_{T+j} = x_{T+j−m} + f(∇_m x)_j
    (bp_app.models.seasonal_difference): the change over one season, not over one step.
    """

    def __init__(
        self,
        lookback: int,
        horizon: int,
        cell: str = "lstm",
        hidden_size: int = 32,
        num_layers: int = 1,
        dropout: float = 0.0,
        residual: bool = True,
        seasonal_lag: int | None = None,
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ConfigError(f"model.cell={cell!r} is unknown; choose one of: {', '.join(CELLS)}")
        if hidden_size < 1 or num_layers < 1 or not 0.0 <= dropout < 1.0:
            raise ConfigError(
                "model.hidden_size and model.num_layers must be >= 1 and model.dropout in [0, 1), "
                f"got {hidden_size}, {num_layers}, {dropout}"
            )
        if seasonal_lag is not None:
            if residual:
                raise ConfigError(
                    f"model.seasonal_lag={seasonal_lag} and model.residual=true are two ways to "
                    "predict a change; set model.residual=false to predict the seasonal one"
                )
            if not 1 <= seasonal_lag < lookback:
                raise ConfigError(
                    f"model.seasonal_lag={seasonal_lag} must be between 1 and "
                    f"data.lookback - 1 = {lookback - 1} (the net reads the window's "
                    "lookback − lag seasonal differences); raise data.lookback, e.g. to "
                    f"{2 * seasonal_lag}"
                )
        self.cell, self.residual, self.seasonal_lag = cell, residual, seasonal_lag
        steps_read = lookback - (seasonal_lag or 0)  # values the body reads per window
        if cell == "mlp":
            sizes = [steps_read] + [hidden_size] * num_layers
            layers: list[nn.Module] = []
            for a, b in zip(sizes[:-1], sizes[1:], strict=True):
                layers += [nn.Linear(a, b), nn.ReLU(), nn.Dropout(dropout)]
            self.body: nn.Module = nn.Sequential(*layers)
        else:
            recurrent = nn.LSTM if cell == "lstm" else nn.GRU
            # PyTorch applies dropout between stacked layers only.
            self.body = recurrent(
                1, hidden_size, num_layers, batch_first=True, dropout=dropout * (num_layers > 1)
            )
        self.head = nn.Linear(hidden_size, horizon)

    def forward(self, x: Tensor) -> Tensor:
        window = x
        if self.seasonal_lag:
            x = seasonal_difference(x, self.seasonal_lag)  # (B, L − m, 1)
        last = x[:, -1, :]  # (B, 1): x_T, the last known value
        if self.residual:
            x = x - last[:, None, :]  # (B, L, 1)
        if self.cell == "mlp":
            h = self.body(x.squeeze(-1))  # (B, L) -> (B, hidden)
        else:
            states, _ = self.body(x)  # (B, L, hidden): h_t for every step
            h = states[:, -1]  # (B, hidden): the state after reading the whole window
        out = self.head(h)  # (B, horizon)
        if self.seasonal_lag:  # out is the seasonal differences d̂: add them to the season
            return undo_seasonal_difference(window.squeeze(-1), out, self.seasonal_lag)
        return out + last if self.residual else out


class Forecaster(ExplicitBackpropMixin, pl.LightningModule):
    """The window network trained by the shared manual-backprop step, checked against the
    naive (last value) and seasonal-naive (one season back) forecasts of the same windows."""

    input_kind: ClassVar[str] = "windows"
    # What validation_step logs every epoch: the metrics a search may optimize and prune on.
    val_metrics: ClassVar[tuple[str, ...]] = ("val/loss", "val/rmse")
    loss_kind: ClassVar[str] = "mse"  # δ_L = 2 (ŷ − y) / (N h) in model.backprop=explicit

    def __init__(
        self,
        lookback: int,
        horizon: int,
        scaler: dict[str, Any],
        cell: str = "lstm",
        hidden_size: int = 32,
        num_layers: int = 1,
        dropout: float = 0.0,
        residual: bool = True,
        seasonal_lag: int | None = None,
        cpu_threads: int | None = 1,
        **backprop: Any,
    ) -> None:
        super().__init__(**backprop)
        self.save_hyperparameters()
        self.lookback, self.horizon = lookback, horizon
        self.cpu_threads = cpu_threads
        self.scaler = Scaler.from_state(scaler)
        self.net = WindowNet(
            lookback, horizon, cell, hidden_size, num_layers, dropout, residual, seasonal_lag
        )
        # torchmetrics accumulate over the epoch and sync across DDP ranks; squared=False: RMSE.
        self.val_rmse = MeanSquaredError(squared=False)
        self.test_rmse = MeanSquaredError(squared=False)
        self.test_mae = MeanAbsoluteError()
        self.test_rmse_naive = MeanSquaredError(squared=False)
        self.test_rmse_seasonal = MeanSquaredError(squared=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def on_fit_start(self) -> None:
        # A window net's matrices are tiny: extra threads only wait on one another, and on a busy
        # machine each wait can cost a whole time slice.
        if self.device.type == "cpu" and self.cpu_threads:
            torch.set_num_threads(self.cpu_threads)

    def to_units(self, scaled: Tensor) -> Tensor:
        """Scaled model outputs -> the data's own units (the scaler fitted on the train part)."""
        return self.scaler.inverse(scaled)

    def step(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, Tensor, Tensor]:
        """Forward and data loss: L = (1/(N·h)) Σ (ŷ − y)² on the scaled series."""
        x, y = batch[0], batch[1]
        prediction = self(x)  # (B, horizon)
        return F.mse_loss(prediction, y), prediction, y

    def validation_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> None:
        loss, prediction, y = self.step(batch)
        actual = batch[2]  # (B, horizon), in units
        self.val_rmse(self.to_units(prediction), actual)
        self.log("val/loss", loss, prog_bar=True, sync_dist=True, batch_size=len(y))
        self.log("val/rmse", self.val_rmse, prog_bar=True, batch_size=len(y))

    def test_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> None:
        loss, prediction, y = self.step(batch)
        actual, baselines = batch[2], batch[3]  # (B, horizon), (B, 2, horizon)
        forecast = self.to_units(prediction)
        self.test_rmse(forecast, actual)
        self.test_mae(forecast, actual)
        # Over every window and every step ahead, as for the model: (B, horizon) -> (B·horizon,)
        self.test_rmse_naive(baselines[:, 0].flatten(), actual.flatten())
        self.test_rmse_seasonal(baselines[:, 1].flatten(), actual.flatten())
        n = len(y)
        self.log("test/loss", loss, sync_dist=True, batch_size=n)
        self.log("test/rmse", self.test_rmse, batch_size=n)
        self.log("test/mae", self.test_mae, batch_size=n)
        self.log("test/rmse_naive", self.test_rmse_naive, batch_size=n)
        self.log("test/rmse_seasonal_naive", self.test_rmse_seasonal, batch_size=n)

    def on_test_epoch_end(self) -> None:
        """The h-step forecast from the data's origin, beside every baseline's from there:
        test/rmse_h, test/mae_h, test/mape_h and test/rmse_h_<baseline>."""
        origin = getattr(self.trainer.datamodule, "origin", None)
        if origin is None:
            return
        window = self.scaler.transform(origin.history[-self.lookback :])
        scaled = self.forecast(torch.as_tensor(window), origin.horizon)
        forecast = self.to_units(scaled).cpu().double().numpy()  # (h,), recursive past the head
        # Every rank holds the whole series and computes the same numbers: no sync needed.
        for key, value in horizon_metrics(forecast, origin.actual).items():
            self.log(f"test/{key}_h", value, sync_dist=False)
        rows = {"forecaster": forecast, **origin.baselines}
        for name, values in origin.baselines.items():
            error = horizon_metrics(values, origin.actual)["rmse"]
            self.log(f"test/rmse_h_{name.lower()}", error, sync_dist=False)
        self.origin_forecasts = rows  # drawn by ForecastPlot
        table = ", ".join(
            f"{name} {horizon_metrics(values, origin.actual)['rmse']:.1f}"
            for name, values in rows.items()
        )
        log.info("RMSE of the last %d values, forecast from one origin: %s", origin.horizon, table)

    @torch.no_grad()
    def forecast(self, window: Tensor, steps: int) -> Tensor:
        """The next ``steps`` scaled values after ``window`` (L,), feeding forecasts back in
        as inputs for the steps beyond the horizon."""
        values = window.to(self.device, torch.float32)
        while len(values) < len(window) + steps:
            recent = values[-self.lookback :].view(1, -1, 1)  # (1, lookback, 1)
            values = torch.cat([values, self(recent)[0]])  # + horizon new values
        return values[len(window) : len(window) + steps]

    def configure_callbacks(self) -> list[pl.Callback]:
        """The forecast figure at test end; only forecasters need it, so it is not in conf/."""
        return [ForecastPlot()]
