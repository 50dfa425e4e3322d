"""model.backprop=explicit|check for every model: training equals autograd's, check logs a small
error, and a layer without a hand-derived backward fails at start."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
from torch import nn

from bp_app.errors import ConfigError
from bp_app.train import train
from tests.conftest import FAST
from tests.explicit_support import MODELS, make_model, train_steps
from tests.tensorboard_events import read_events


@pytest.mark.parametrize("name", list(MODELS))
def test_fifty_explicit_steps_equal_fifty_autograd_steps(name):
    """50 float32 Adam steps from the same seed end at the same parameters within 1e-5."""
    start = dict(make_model(name).named_parameters())
    runs = {mode: train_steps(name, 50, backprop=mode) for mode in ("autograd", "explicit")}
    explicit = dict(runs["explicit"].named_parameters())
    for key, value in runs["autograd"].named_parameters():
        assert not torch.equal(value, start[key]), f"{key} did not train"
        torch.testing.assert_close(explicit[key], value, rtol=1e-5, atol=1e-5, msg=key)
    for key, value in runs["autograd"].named_buffers():  # batch norm's running statistics
        torch.testing.assert_close(dict(runs["explicit"].named_buffers())[key], value, msg=key)


@pytest.mark.parametrize(
    "overrides",
    [
        ["model=cnn", "callbacks=none"],
        ["experiment=sentiment_negation", "data.train_size=256", "data.val_size=64"],
        ["experiment=airline_forecast", "trainer.max_epochs=2", "callbacks=none"],
    ],
    ids=["cnn", "sentiment_negation", "airline_forecast"],
)
def test_check_mode_logs_small_relative_error_for_every_model(train_config, tmp_path, overrides):
    """The issue's 'done when' runs, shortened: train/grad_check_rel_err < 1e-5."""
    cfg = train_config(
        [*FAST, *overrides, "model.backprop=check", "trainer.log_every_n_steps=2", "test=false"]
    )
    train(cfg)
    scalars, _ = read_events(tmp_path / "run" / "tensorboard")
    errors = [value for _, value in scalars["train/grad_check_rel_err"]]
    assert len(errors) >= 2
    assert 0 <= max(errors) < 1e-5


def test_a_layer_without_a_hand_derived_backward_fails_at_start_naming_it():
    model = make_model("cnn", backprop="explicit")
    model.net.features[0] = nn.Conv2d(1, 3, 3, dilation=2)  # dilation has no explicit backward
    trainer = pl.Trainer(accelerator="cpu", max_steps=1, logger=False, enable_progress_bar=False)
    from tests.explicit_support import TinyData

    with pytest.raises(ConfigError, match=r"net\.features\.0 .*dilation.*backprop=autograd"):
        trainer.fit(model, datamodule=TinyData("images", batch_size=16))
    model.net.classifier.append(nn.GELU())
    with pytest.raises(ConfigError, match=r"net\.(features|classifier)\.\d+ \("):
        trainer.fit(model, datamodule=TinyData("images", batch_size=16))


def test_bptt_steps_needs_explicit_and_a_recurrent_model():
    with pytest.raises(ConfigError, match="model.bptt_steps=3 needs .*backprop=explicit"):
        make_model("sentiment_lstm", backprop="autograd", bptt_steps=3)
    with pytest.raises(ConfigError, match="autograd, explicit, check"):
        make_model("forecaster_lstm", backprop="by_hand")


@pytest.mark.parametrize("name", ["cnn", "sentiment_gru", "forecaster_lstm"])
def test_explicit_follows_autograd_with_a_penalty_clipping_and_batch_descent(name):
    """Elastic penalty (∂Ω/∂w by hand), norm clipping and one full-batch update per epoch."""
    options = dict(
        regularization={"name": "elastic", "l1": 1e-3, "l2": 1e-2},
        descent={"mode": "batch"},
        gradient_clip_val=0.5,
        optimizer={"name": "momentum", "lr": 0.05, "momentum": 0.9},
    )
    runs = {m: train_steps(name, 4, backprop=m, **options) for m in ("autograd", "explicit")}
    explicit = dict(runs["explicit"].named_parameters())
    for key, value in runs["autograd"].named_parameters():
        torch.testing.assert_close(explicit[key], value, rtol=1e-5, atol=1e-6, msg=key)
