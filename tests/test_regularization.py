"""L1 / L2 / elastic penalties: value, gradient, weight-decay equivalence, logging, ranges."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

from bp_app.errors import ConfigError
from bp_app.optim.factory import build_optimizer
from bp_app.optim.regularization import Regularization
from bp_app.train import train
from tests.conftest import FAST


def small_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 3)).double()


@pytest.mark.parametrize("l1, l2", [(0.3, 0.0), (0.0, 0.7), (0.2, 0.5)])
def test_penalty_value_and_gradient(l1, l2):
    """Ω = λ1 Σ|w| + (λ2/2) Σ w² over weights only; ∂Ω/∂w = λ1 sign(w) + λ2 w; biases free."""
    net = small_net()
    weights = [net[0].weight, net[2].weight]
    penalty = Regularization(l1=l1, l2=l2).penalty(net)
    expected = sum(l1 * w.abs().sum() + 0.5 * l2 * w.pow(2).sum() for w in weights)
    torch.testing.assert_close(penalty, expected, rtol=1e-14, atol=0)
    penalty.backward()
    for w in weights:
        torch.testing.assert_close(w.grad, l1 * w.sign() + l2 * w, rtol=1e-12, atol=1e-15)
    assert net[0].bias.grad is None and net[2].bias.grad is None


def test_penalty_gradient_passes_gradcheck():
    net = small_net()
    regularizer = Regularization(l1=0.3, l2=0.4, include_bias=True)
    params = tuple(net.parameters())

    # gradcheck perturbs its inputs in place: here they are the module's own parameters,
    # so the penalty (which reads the module) sees every perturbation.
    def penalty(*_: torch.Tensor) -> torch.Tensor:
        return regularizer.penalty(net)

    assert torch.autograd.gradcheck(penalty, params, eps=1e-6, atol=1e-8)


@pytest.mark.parametrize("impl", ["explicit", "torch"])
def test_l2_penalty_follows_sgd_weight_decay(impl):
    """SGD on L + (λ2/2)‖w‖² takes exactly the steps of SGD on L with weight decay λ2."""
    l2 = 0.05
    penalized, decayed = small_net(), small_net()
    x = torch.randn(16, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    y = torch.arange(16) % 3
    regularizer = Regularization(l2=l2, include_bias=True)  # torch's decay covers biases too
    plain = build_optimizer(penalized.parameters(), {"name": "sgd", "lr": 0.2, "impl": impl})
    decay = build_optimizer(
        decayed.parameters(), {"name": "sgd", "lr": 0.2, "weight_decay": l2, "impl": impl}
    )
    for _ in range(50):
        for net, optimizer, extra in ((penalized, plain, True), (decayed, decay, False)):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(net(x), y)
            (loss + regularizer.penalty(net) if extra else loss).backward()
            optimizer.step()
    for p, q in zip(penalized.parameters(), decayed.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-10, atol=0)


def test_l2_and_weight_decay_agree_through_bp_train(train_config, tmp_path: Path):
    """The same equivalence end to end: regularization=l2 vs optimizer.weight_decay."""
    common = [*FAST, "logger=none", "test=false", "optimizer=sgd"]
    runs = {
        "penalty": [
            "regularization=l2",
            "regularization.l2=0.01",
            "regularization.include_bias=true",
        ],
        "decay": ["optimizer.weight_decay=0.01"],
    }
    weights = {}
    for name, options in runs.items():
        train(train_config([*common, *options, f"paths.run_dir={tmp_path / name}"]))
        ckpt = torch.load(tmp_path / name / "checkpoints" / "last.ckpt", weights_only=True)
        weights[name] = ckpt["state_dict"]
    for key, value in weights["penalty"].items():
        torch.testing.assert_close(value, weights["decay"][key], rtol=1e-5, atol=1e-7)


def test_sparsity_counts_small_weights_only():
    net = nn.Linear(4, 2)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[0.0, 5e-4, -2e-4, 1.0], [0.5, -1e-3, 2.0, 3.0]]))
        net.bias.zero_()  # biases are not weights: never counted
    assert Regularization().sparsity(net).item() == pytest.approx(3 / 8)


def test_l1_run_logs_penalty_and_sparsity(train_config, tmp_path: Path):
    cfg = train_config(
        [*FAST, "test=false", "regularization=l1", "regularization.l1=1e-3"]
        + ["trainer.log_every_n_steps=2"]
    )
    train(cfg)
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    scalars = events.Tags()["scalars"]
    assert {"train/loss", "train/penalty", "train/sparsity", "lr"} <= set(scalars)
    penalties = [e.value for e in events.Scalars("train/penalty")]
    assert len(penalties) >= 4 and all(p > 0 for p in penalties)
    assert all(0 <= e.value <= 1 for e in events.Scalars("train/sparsity"))


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        (["regularization=l1", "regularization.l1=-1e-4"], "regularization.l1=-0.0001 is out"),
        (["regularization=l2", "regularization.l2=-1"], "must be a number in [0, 1e+06]"),
        (["regularization=elastic", "regularization.l2=-0.5"], "(the L2 strength λ2)"),
        (["+regularization.l3=0.1"], "Unknown config key 'regularization.l3'"),
    ],
)
@pytest.mark.usefixtures("forbid_data_loading")
def test_bad_strengths_fail_naming_the_key(train_config, overrides, fragment):
    with pytest.raises(ConfigError) as error:
        train(train_config([*FAST, *overrides]))
    assert fragment in str(error.value)


@pytest.mark.parametrize("option", ["none", "l1", "l2", "elastic"])
def test_regularization_options_compose_and_run(train_config, option):
    tiny = [*FAST, "+trainer.limit_train_batches=3", "+trainer.limit_val_batches=1"]
    cfg = train_config(
        [*tiny, "logger=none", "callbacks=none", "test=false"] + [f"regularization={option}"]
    )
    penalty = Regularization(
        **{k: v for k, v in cfg.regularization.items() if k not in ("name", "strength")}
    )
    assert penalty.active is (option != "none")
    assert penalty.l1 > 0 if option in ("l1", "elastic") else penalty.l1 == 0
    assert penalty.l2 > 0 if option in ("l2", "elastic") else penalty.l2 == 0
    assert math.isfinite(train(cfg)["val/loss"])
