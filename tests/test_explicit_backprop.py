"""The hand-derived backward (bp_app.backprop.explicit) against torch autograd and finite
differences, and the MLP's backprop=explicit|check modes against backprop=autograd."""

from __future__ import annotations

import random

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.plugins.precision import MixedPrecision

from bp_app.backprop.explicit import loss_value, mlp_forward, mlp_gradients, output_error
from bp_app.data.digits import DigitsDataModule
from bp_app.errors import ConfigError
from bp_app.models.mlp import ACTIVATIONS, MLP, MLPClassifier
from bp_app.optim.regularization import Regularization
from bp_app.train import train
from tests.conftest import FAST, quiet_trainer
from tests.tensorboard_events import read_events

LOSSES = ("cross_entropy", "mse", "bce")


def random_case(seed: int, activation: str, loss: str):
    """A random MLP (depth, widths, dropout), batch, targets and penalty, in float64."""
    rng = random.Random(seed)
    torch.manual_seed(seed)
    n, d, k = rng.randint(1, 9), rng.randint(1, 9), rng.randint(1, 5)
    hidden = [rng.randint(1, 9) for _ in range(rng.randint(0, 4))]
    net = MLP(d, hidden, k, activation, dropout=rng.choice([0.0, 0.0, 0.4])).double()
    x = torch.randn(n, 1, d, dtype=torch.float64)  # (N, 1, d): flattened by the MLP
    target = {
        "cross_entropy": torch.randint(0, k, (n,)),
        "mse": torch.randn(n, k, dtype=torch.float64),
        "bce": torch.rand(n, k, dtype=torch.float64),
    }[loss]
    regularizer = Regularization(
        l1=rng.choice([0.0, 0.01]), l2=rng.choice([0.0, 0.1]), include_bias=rng.random() < 0.5
    )
    return net, x, target, regularizer


def explicit_and_autograd(net, x, target, loss, regularizer):
    """(explicit grads, autograd grads) for J = L + Ω, through the same dropout masks."""
    z, cache = mlp_forward(net, x)  # recorded by autograd too: the masks are shared
    objective = loss_value(loss, z, target)
    penalty = regularizer.penalty(net)
    if penalty is not None:
        objective = objective + penalty
    params = list(net.parameters())
    autograd = torch.autograd.grad(objective, params)
    with torch.no_grad():
        explicit = mlp_gradients(net, net, cache, output_error(loss, z, target), regularizer)
    return [explicit[p] for p in params], list(autograd)


def max_relative_error(grads, reference) -> float:
    pairs = zip(grads, reference, strict=True)
    return max(float((g - r).norm() / r.norm().clamp_min(1e-300)) for g, r in pairs)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_explicit_gradients_equal_autograd_float64(activation, loss, seed):
    net, x, target, regularizer = random_case(
        seed * 100 + len(activation) + len(loss), activation, loss
    )
    torch.manual_seed(seed)
    z_explicit, _ = mlp_forward(net, x)
    torch.manual_seed(seed)
    assert torch.equal(z_explicit, net(x))  # same forward, same dropout draws as nn.Dropout
    explicit, autograd = explicit_and_autograd(net, x, target, loss, regularizer)
    assert max_relative_error(explicit, autograd) <= 1e-10


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_explicit_gradients_match_finite_differences(activation):
    """Central differences (J(θ+ε) − J(θ−ε)) / 2ε on every parameter entry of a small net."""
    torch.manual_seed(3)
    net = MLP(4, [5, 3], 3, activation).double()
    x, y = torch.randn(6, 4, dtype=torch.float64), torch.randint(0, 3, (6,))
    regularizer = Regularization(l1=0.01, l2=0.1)

    def objective() -> float:
        z, _ = mlp_forward(net, x)
        return float(loss_value("cross_entropy", z, y) + regularizer.penalty(net))

    with torch.no_grad():
        z, cache = mlp_forward(net, x)
        grads = mlp_gradients(net, net, cache, output_error("cross_entropy", z, y), regularizer)
        eps = 1e-6
        for p in net.parameters():
            numeric = torch.zeros_like(p)
            for i in range(p.numel()):
                p.view(-1)[i] += eps
                up = objective()
                p.view(-1)[i] -= 2 * eps
                down = objective()
                p.view(-1)[i] += eps
                numeric.view(-1)[i] = (up - down) / (2 * eps)
            assert (grads[p] - numeric).norm() <= 1e-6 * numeric.norm() + 1e-9


def classifier(backprop: str, **overrides) -> MLPClassifier:
    options = dict(
        input_shape=[1, 8, 8],
        num_classes=10,
        hidden_sizes=[32, 16],
        activation="tanh",
        dropout=0.2,
        backprop=backprop,
        optimizer={"name": "sgd", "lr": 0.1, "momentum": 0.9},
        regularization={"name": "elastic", "l1": 1e-4, "l2": 1e-3},
    )
    return MLPClassifier(**{**options, **overrides})


def fit(model: MLPClassifier, steps: int, callbacks=(), plugins=()) -> MLPClassifier:
    trainer = quiet_trainer(
        max_steps=steps,
        limit_val_batches=0,
        callbacks=list(callbacks),
        plugins=list(plugins),
    )
    trainer.fit(model, datamodule=DigitsDataModule(batch_size=64, seed=0))
    return model


def test_explicit_training_follows_autograd_training():
    """50 float32 SGD steps (momentum, dropout, elastic penalty) from the same seed."""
    runs = {}
    for mode in ("autograd", "explicit"):
        pl.seed_everything(7)
        runs[mode] = fit(classifier(mode), steps=50)
    start = (pl.seed_everything(7), classifier("autograd"))[1]
    trained = zip(runs["autograd"].named_parameters(), runs["explicit"].parameters(), strict=True)
    for ((name, a), e), s in zip(trained, start.parameters(), strict=True):
        assert not torch.equal(a, s), f"{name} did not train"
        torch.testing.assert_close(e, a, rtol=1e-5, atol=1e-5, msg=name)


def test_explicit_batch_descent_weights_each_batch_by_its_share():
    """descent=batch: the epoch's batches (64, 64, ..., uneven last) add up to one exact step."""
    runs = {}
    for mode in ("autograd", "explicit"):
        pl.seed_everything(3)
        model = classifier(mode, dropout=0.0, descent={"mode": "batch"})
        runs[mode] = fit(model, steps=2)
    for (name, a), e in zip(
        runs["autograd"].named_parameters(), runs["explicit"].parameters(), strict=True
    ):
        torch.testing.assert_close(e, a, rtol=1e-5, atol=1e-6, msg=name)


class FirstGradients(pl.Callback):
    """Keeps the unscaled gradients the optimizer sees at the first step."""

    def __init__(self) -> None:
        self.grads: list[torch.Tensor] | None = None

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        if self.grads is None:
            self.grads = [p.grad.detach().clone() for p in pl_module.parameters()]


def test_explicit_gradients_under_fp16_loss_scaling():
    """16-mixed with a GradScaler: the hand-derived gradients are scaled as autograd's are, so
    the unscaled ones the optimizer sees match float32 (to fp16 precision, not off by 2^12)."""
    grads = {}
    for mode, amp in (("autograd", False), ("autograd", True), ("explicit", True)):
        pl.seed_everything(7)
        grab = FirstGradients()
        scaler = torch.amp.GradScaler("cpu", init_scale=2.0**12)
        plugins = [MixedPrecision("16-mixed", device="cpu", scaler=scaler)] if amp else []
        fit(classifier(mode, dropout=0.0), steps=1, callbacks=[grab], plugins=plugins)
        grads[mode, amp] = grab.grads
    reference = grads["autograd", False]
    assert max_relative_error(grads["autograd", True], reference) < 1e-2
    assert max_relative_error(grads["explicit", True], reference) < 1e-2


def test_check_mode_logs_small_relative_error(train_config, tmp_path):
    cfg = train_config([*FAST, "model.backprop=check", "trainer.log_every_n_steps=2", "test=false"])
    train(cfg)
    scalars, _ = read_events(tmp_path / "run" / "tensorboard")
    errors = [value for _, value in scalars["train/grad_check_rel_err"]]
    assert len(errors) >= 3
    assert 0 <= max(errors) < 1e-5


def test_unknown_backprop_mode_names_the_choices():
    with pytest.raises(ConfigError, match="autograd, explicit, check"):
        classifier("by_hand")
