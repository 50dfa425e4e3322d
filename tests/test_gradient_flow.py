"""The gradient-flow callback: its tags in a real TensorBoard event file, values that agree with
the optimizer's actual update, unscaled values under AMP, and no work off its logging steps."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import Logger, TensorBoardLogger
from pytorch_lightning.plugins.precision import MixedPrecision

from bp_app.callbacks.gradient_flow import GradientFlow, add_histogram
from bp_app.data.digits import DigitsDataModule
from bp_app.models.mlp import MLPClassifier
from bp_app.train import train
from tests.conftest import FAST, quiet_trainer
from tests.tensorboard_events import histogram_steps, read_events

LAYERS = ("net.layers.0", "net.layers.1")


def test_tags_appear_in_the_tensorboard_event_file(train_config, tmp_path):
    """bp-train's default callbacks write the tags, at steps 0, N, 2N only."""
    cfg = train_config(
        [
            *FAST,
            "+trainer.limit_train_batches=7",
            "callbacks.gradient_flow.every_n_steps=3",
            "test=false",
        ]
    )
    train(cfg)
    scalars, histograms = read_events(tmp_path / "run" / "tensorboard")
    for layer in LAYERS:
        for prefix in ("grad_norm", "update_ratio"):
            points = scalars[f"{prefix}/{layer}"]
            assert [step for step, _ in points] == [0, 3, 6]
            assert all(value > 0 for _, value in points)
        for kind in ("weights", "gradients"):
            assert {f"{kind}/{layer}.weight", f"{kind}/{layer}.bias"} <= histograms


def test_histograms_follow_their_own_sparser_schedule(train_config, tmp_path):
    """Histograms at steps 0, H, 2H, ... and in each epoch's last batch; scalars every N."""
    cfg = train_config(
        [
            *FAST,
            "trainer.max_epochs=2",
            "+trainer.limit_train_batches=7",  # epoch 0: steps 0-6, epoch 1: steps 7-13
            "+trainer.limit_val_batches=1",
            "callbacks.gradient_flow.every_n_steps=3",
            "callbacks.gradient_flow.histogram_every_n_steps=5",
            "test=false",
        ]
    )
    train(cfg)
    log_dir = tmp_path / "run" / "tensorboard"
    scalars, _ = read_events(log_dir)
    steps = histogram_steps(log_dir)
    for layer in LAYERS:
        assert [step for step, _ in scalars[f"grad_norm/{layer}"]] == [0, 3, 6, 9, 12]
        assert [step for step, _ in scalars[f"update_ratio/{layer}"]] == [0, 3, 6, 9, 12]
        for kind in ("weights", "gradients"):
            for param in ("weight", "bias"):
                assert steps[f"{kind}/{layer}.{param}"] == [0, 5, 6, 10, 13]


def test_histogram_every_n_steps_is_checked(train_config):
    from bp_app.errors import ConfigError

    cfg = train_config([*FAST, "callbacks.gradient_flow.histogram_every_n_steps=0"])
    with pytest.raises(ConfigError, match="histogram_every_n_steps must be >= 1"):
        train(cfg)


class RecordingLogger(Logger):
    """Keeps what is logged, in memory."""

    def __init__(self) -> None:
        super().__init__()
        self.metrics: dict[tuple[str, int], float] = {}

    name = "recording"
    version = "0"

    def log_metrics(self, metrics, step=None) -> None:
        self.metrics.update({(k, step): float(v) for k, v in metrics.items()})

    def log_hyperparams(self, params, *args, **kwargs) -> None:
        pass


def fit(steps: int, every: int, optimizer: dict, plugins=()) -> tuple[RecordingLogger, list]:
    """Train a small MLP on digits with the callback; return the logger and the start weights."""
    pl.seed_everything(3)
    model = MLPClassifier([1, 8, 8], 10, hidden_sizes=[16], optimizer=optimizer)
    start = [p.detach().clone() for p in model.parameters()]
    logger = RecordingLogger()
    trainer = quiet_trainer(
        max_steps=steps,
        limit_val_batches=0,
        logger=logger,
        log_every_n_steps=1000,  # only the callback writes
        callbacks=[GradientFlow(every_n_steps=every)],
        plugins=list(plugins),
    )
    trainer.fit(model, datamodule=DigitsDataModule(batch_size=64, seed=0))
    return logger, start


def test_norms_agree_with_the_sgd_update():
    """Plain SGD moves w by −η g, so ‖Δw‖ = η ‖g‖: update_ratio · ‖w‖ must equal η · grad_norm."""
    lr = 0.05
    logger, start = fit(steps=1, every=1, optimizer={"name": "sgd", "lr": lr})
    for i, layer in enumerate(LAYERS):
        weight, bias = start[2 * i], start[2 * i + 1]
        w_norm = float(torch.cat([weight.flatten(), bias]).norm())
        grad_norm = logger.metrics[f"grad_norm/{layer}", 0]
        update_ratio = logger.metrics[f"update_ratio/{layer}", 0]
        assert grad_norm > 0
        assert update_ratio * w_norm == pytest.approx(lr * grad_norm, rel=1e-4)


def test_norms_are_unscaled_under_fp16_loss_scaling():
    adam = {"name": "adam", "lr": 1e-3}
    plain, _ = fit(steps=1, every=1, optimizer=adam)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**12)
    amp = [MixedPrecision("16-mixed", device="cpu", scaler=scaler)]
    scaled, _ = fit(steps=1, every=1, optimizer=adam, plugins=amp)
    for layer in LAYERS:
        key = (f"grad_norm/{layer}", 0)
        assert scaled.metrics[key] == pytest.approx(plain.metrics[key], rel=1e-2)


def test_logs_only_on_its_steps():
    logger, _ = fit(steps=7, every=3, optimizer={"name": "adam", "lr": 1e-3})
    assert sorted({step for _, step in logger.metrics}) == [0, 3, 6]


class Untouchable:
    """A module stand-in that fails if the callback reads anything from it."""

    def named_parameters(self):
        raise AssertionError("the callback worked on a step it does not log")


def test_nothing_happens_off_its_steps_or_off_rank_zero():
    callback = GradientFlow(every_n_steps=5)
    off_step = SimpleNamespace(global_step=7, is_global_zero=True, loggers=[object()])
    off_rank = SimpleNamespace(global_step=10, is_global_zero=False, loggers=[object()])
    for trainer in (off_step, off_rank):
        assert not callback.due(trainer)
        callback.on_before_optimizer_step(trainer, Untouchable(), optimizer=None)
        callback.on_train_batch_end(trainer, Untouchable(), None, None, 0)


def test_every_n_steps_must_be_positive():
    with pytest.raises(ValueError, match="every_n_steps must be >= 1"):
        GradientFlow(every_n_steps=0)


def test_histograms_skip_non_finite_gradients_of_an_overflowing_fp16_step(tmp_path):
    """Under 16-mixed a step may overflow (the scaler then skips it): its inf gradients must
    not crash the histogram, and the finite values of a mixed tensor are still drawn."""
    logger = TensorBoardLogger(tmp_path, name="tb", version="")
    trainer = SimpleNamespace(loggers=[logger])
    add_histogram(trainer, "gradients/all_inf", torch.full((4,), float("inf")), step=0)
    add_histogram(trainer, "gradients/mixed", torch.tensor([1.0, float("nan"), 2.0]), step=0)
    logger.experiment.flush()
    _, histograms = read_events(tmp_path / "tb")
    assert "gradients/mixed" in histograms and "gradients/all_inf" not in histograms
