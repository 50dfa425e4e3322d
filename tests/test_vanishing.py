"""experiment=vanishing_gradients: with sigmoid the first layer's gradient all but vanishes."""

from __future__ import annotations

import statistics

from bp_app.train import train
from tests.conftest import FAST
from tests.tensorboard_events import read_events

FIRST, LAST = "grad_norm/net.layers.0", "grad_norm/net.layers.8"  # 8 hidden layers + output


def test_experiment_is_a_two_run_sweep_of_one_deep_mlp(train_config):
    cfg = train_config(["experiment=vanishing_gradients"])
    assert cfg.hydra.sweeper.params["model.activation"] == "sigmoid,relu"
    assert list(cfg.model.hidden_sizes) == [64] * 8
    assert cfg.data._target_.endswith("DigitsDataModule")


def last_over_first(train_config, tmp_path, activation: str) -> float:
    """‖∂L/∂θ_L‖ / ‖∂L/∂θ_1‖ averaged over a few steps, read back from TensorBoard."""
    run = tmp_path / activation
    cfg = train_config(
        [
            *FAST,
            "experiment=vanishing_gradients",
            f"model.activation={activation}",
            f"paths.run_dir={run}",
            "+trainer.limit_train_batches=4",
            "+trainer.limit_val_batches=1",
            "callbacks.gradient_flow.every_n_steps=1",
            "callbacks.gradient_flow.histograms=false",
            "test=false",
        ]
    )
    train(cfg)
    scalars, _ = read_events(run / "tensorboard")
    assert len(scalars[FIRST]) == len(scalars[LAST]) == 4
    first = statistics.mean(value for _, value in scalars[FIRST])
    last = statistics.mean(value for _, value in scalars[LAST])
    return last / first


def test_sigmoid_gradient_vanishes_and_relu_does_not(train_config, tmp_path):
    sigmoid = last_over_first(train_config, tmp_path, "sigmoid")
    relu = last_over_first(train_config, tmp_path, "relu")
    assert sigmoid >= 100  # the first hidden layer's gradient is >= 100x smaller
    assert relu * 1000 < sigmoid  # relu shrinks it far less (measured: about 4e6 against 150)
