"""bp_app's written-out update rules against torch.optim, state round trips, factory and ranges."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
import torch
from torch import nn

from bp_app.config.checks import check_train_config
from bp_app.errors import ConfigError
from bp_app.optim import optimizers
from bp_app.optim.factory import build_optimizer
from bp_app.train import train
from tests.conftest import EVERY_EPOCH, FAST

NAMES = ["sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw"]


def random_hyperparameters(name: str, rng: random.Random) -> dict:
    """A valid config for ``name`` with every option drawn at random."""

    def decay() -> float:
        return rng.choice([0.0, rng.uniform(1e-4, 5e-2)])

    if name in ("sgd", "momentum", "nesterov"):
        mu = {"sgd": 0.0, "momentum": rng.uniform(0.3, 0.99), "nesterov": rng.uniform(0.3, 0.99)}
        return {"lr": rng.uniform(1e-3, 0.2), "momentum": mu[name], "weight_decay": decay()}
    if name == "rmsprop":
        return {
            "lr": rng.uniform(1e-4, 1e-2),
            "rho": rng.uniform(0.8, 0.999),
            "eps": 10 ** rng.uniform(-10, -6),
            "momentum": rng.choice([0.0, rng.uniform(0.3, 0.95)]),
            "centered": rng.choice([False, True]),
            "weight_decay": decay(),
        }
    return {
        "lr": rng.uniform(1e-4, 1e-2),
        "betas": [rng.uniform(0.5, 0.95), rng.uniform(0.9, 0.9999)],
        "eps": 10 ** rng.uniform(-10, -6),
        "weight_decay": rng.uniform(1e-3, 0.1) if name == "adamw" else decay(),
        "amsgrad": rng.choice([False, True]),
    }


def make_problem(seed: int = 0) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """A small tanh network on fixed data, float64, plus one parameter that never gets a grad."""
    generator = torch.Generator().manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    model.register_parameter("unused", nn.Parameter(torch.ones(2, dtype=torch.float64)))
    x = torch.randn(32, 6, generator=generator, dtype=torch.float64)
    y = torch.randint(0, 3, (32,), generator=generator)
    return model, x, y


def train_steps(model: nn.Module, optimizer, x, y, steps: int) -> None:
    for _ in range(steps):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()


def assert_same_parameters(a: nn.Module, b: nn.Module, rtol: float) -> None:
    for (name, p), q in zip(a.named_parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=rtol, atol=0.0, msg=lambda m, n=name: f"{n}: {m}")


@pytest.mark.parametrize("foreach", [True, False], ids=["multi_tensor", "per_tensor"])
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("draw", range(3))
def test_explicit_matches_torch_optim_for_100_steps(name, draw, foreach):
    """Each form against torch.optim's same form (foreach=True: torch's multi-tensor kernels)."""
    rng = random.Random(1000 * NAMES.index(name) + draw)
    config = {"name": name, **random_hyperparameters(name, rng), "foreach": foreach}
    start, x, y = make_problem(draw)
    ours, theirs = start, make_problem(draw)[0]
    theirs.load_state_dict(start.state_dict())
    explicit = build_optimizer(ours.parameters(), {**config, "impl": "explicit"})
    library = build_optimizer(theirs.parameters(), {**config, "impl": "torch"})
    assert type(explicit).__module__ == "bp_app.optim.optimizers"
    assert type(library).__module__.startswith("torch.optim")
    assert explicit.defaults["foreach"] is library.defaults["foreach"] is foreach
    initial = {name: p.detach().clone() for name, p in ours.named_parameters()}
    train_steps(ours, explicit, x, y, 100)
    train_steps(theirs, library, x, y, 100)
    assert_same_parameters(ours, theirs, rtol=1e-10)
    moved = {name: not torch.equal(p, initial[name]) for name, p in ours.named_parameters()}
    assert moved.pop("unused") is False  # no gradient, no update (not even weight decay)
    assert all(moved.values())


@pytest.mark.parametrize("name", NAMES)
def test_a_checkpoint_moves_between_the_two_forms(name):
    """Same state names in both forms: 20 multi-tensor steps, then 20 per-tensor steps from its
    state, equal 40 per-tensor steps; tensors of two dtypes go to separate foreach calls."""
    config = {"name": name, "impl": "explicit", **random_hyperparameters(name, random.Random(3))}
    model, x, y = make_problem()
    model.register_parameter("single", nn.Parameter(torch.ones(4, dtype=torch.float32)))
    reference = make_problem()[0]
    reference.register_parameter("single", nn.Parameter(torch.ones(4, dtype=torch.float32)))
    reference.load_state_dict(model.state_dict())

    def steps(net: nn.Module, optimizer, n: int) -> None:
        for _ in range(n):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(net(x), y) + net.single.double().pow(2).sum()
            loss.backward()
            optimizer.step()

    multi = build_optimizer(model.parameters(), {**config, "foreach": True})
    steps(model, multi, 20)
    per = build_optimizer(model.parameters(), {**config, "foreach": False})
    per.load_state_dict(multi.state_dict())
    assert per.param_groups[0]["foreach"] is False  # the form is the optimizer's, not the state's
    steps(model, per, 20)
    steps(reference, build_optimizer(reference.parameters(), {**config, "foreach": False}), 40)
    assert_same_parameters(model, reference, rtol=1e-6)  # float32 tensor: float32 rounding
    assert not torch.equal(model.single, torch.ones(4))


def test_foreach_none_takes_the_per_tensor_loop_on_the_cpu(monkeypatch):
    """None picks as torch.optim does: multi-tensor on a GPU, the loop on the CPU."""
    calls = []
    monkeypatch.setattr("bp_app.optim.multi_tensor.adam", lambda *args: calls.append(args))
    params = [nn.Parameter(torch.zeros(3))]
    params[0].grad = torch.ones(3)
    build_optimizer(params, {"name": "adam", "lr": 0.1}).step()
    assert calls == [] and not torch.equal(params[0], torch.zeros(3))  # the loop ran
    build_optimizer(params, {"name": "adam", "lr": 0.1, "foreach": True}).step()
    assert len(calls) == 1


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trips_through_a_checkpoint(name, tmp_path: Path):
    config = {"name": name, "impl": "explicit", **random_hyperparameters(name, random.Random(7))}
    model, x, y = make_problem()
    optimizer = build_optimizer(model.parameters(), config)
    train_steps(model, optimizer, x, y, 20)
    path = tmp_path / "state.ckpt"
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, path)
    train_steps(model, optimizer, x, y, 20)  # the uninterrupted run

    checkpoint = torch.load(path, weights_only=True)  # how Lightning checkpoints are read
    resumed = make_problem()[0]
    resumed.load_state_dict(checkpoint["model"])
    restored = build_optimizer(resumed.parameters(), config)
    restored.load_state_dict(checkpoint["optimizer"])
    if name != "sgd":  # plain SGD keeps no state; every other rule must carry some
        assert restored.state
    train_steps(resumed, restored, x, y, 20)
    for p, q in zip(model.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(p, q)


def test_resumed_training_is_identical(train_config, tmp_path: Path):
    """Two epochs in one go equal one epoch, a checkpoint, and a resumed second epoch."""
    options = [
        *FAST,
        "logger=none",
        "test=false",
        "optimizer=adam",
        "optimizer.amsgrad=true",
        "scheduler=step",
        "scheduler.interval=step",
        "scheduler.step_size=4",
        EVERY_EPOCH,
    ]

    def run(folder: Path, epochs: int, ckpt: Path | None = None) -> dict:
        resume = [f"ckpt_path={ckpt}"] if ckpt else []
        train(
            train_config(
                [*options, f"trainer.max_epochs={epochs}", f"paths.run_dir={folder}", *resume]
            )
        )
        return torch.load(folder / "checkpoints" / "last.ckpt", weights_only=True)

    straight = run(tmp_path / "straight", 2)
    run(tmp_path / "first", 1)
    resumed = run(tmp_path / "resumed", 2, tmp_path / "first" / "checkpoints" / "last.ckpt")
    assert straight["global_step"] == resumed["global_step"] > 0
    for key, value in straight["state_dict"].items():
        assert torch.equal(value, resumed["state_dict"][key]), key
    ours, theirs = straight["optimizer_states"][0], resumed["optimizer_states"][0]
    assert ours["param_groups"][0]["lr"] == theirs["param_groups"][0]["lr"] < 1e-3
    for index, state in ours["state"].items():
        assert state["t"] == theirs["state"][index]["t"]
        assert torch.equal(state["v_max"], theirs["state"][index]["v_max"])


def test_impl_chooses_bp_app_or_torch_with_the_same_hyperparameters():
    params = [nn.Parameter(torch.zeros(3))]
    config = {"name": "rmsprop", "lr": 0.01, "rho": 0.9, "momentum": 0.5, "centered": True}
    explicit = build_optimizer(params, config)  # explicit is the default
    library = build_optimizer(params, {**config, "impl": "torch"})
    assert isinstance(explicit, optimizers.RMSProp)
    assert isinstance(library, torch.optim.RMSprop)
    assert explicit.defaults["rho"] == library.defaults["alpha"] == 0.9  # ρ is torch's alpha
    nesterov = build_optimizer(params, {"name": "nesterov", "lr": 0.1, "momentum": 0.9})
    assert nesterov.defaults["nesterov"] is True


@pytest.mark.parametrize(
    "config, fragment",
    [
        ({"name": "adagrad", "lr": 0.1}, "optimizer.name='adagrad'"),
        ({"name": "sgd", "impl": "jax", "lr": 0.1}, "optimizer.impl='jax'"),
        ({"name": "adam", "lr": 0.1, "rho": 0.9}, "optimizer.rho is not a hyperparameter of"),
    ],
)
def test_unknown_names_and_keys_fail_naming_them(config, fragment):
    with pytest.raises(ConfigError, match=None) as error:
        build_optimizer([nn.Parameter(torch.zeros(1))], config)
    assert fragment in str(error.value)


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        (["optimizer.lr=0"], "optimizer.lr=0 is out of range: it must be a number in (0, 1e+06]"),
        (["optimizer=momentum", "optimizer.lr=-0.1"], "optimizer.lr=-0.1 is out of range"),
        (
            ["optimizer.betas=[0.9,1.0]"],
            "optimizer.betas=[0.9, 1.0] is out of range: each value must ",
        ),
        (["optimizer.betas=[-0.1,0.99]"], "a number in [0, 1) (Adam's decays"),
        (["optimizer=rmsprop", "optimizer.rho=1.0"], "optimizer.rho=1.0 is out of range"),
        (["optimizer=rmsprop", "optimizer.rho=1.5"], "must be a number in [0, 1)"),
        (["optimizer=momentum", "optimizer.momentum=1.2"], "optimizer.momentum=1.2 is out of"),
        (["optimizer=adamw", "optimizer.weight_decay=-0.01"], "optimizer.weight_decay=-0.01"),
        (["optimizer=sgd", "optimizer.weight_decay=-1"], "must be a number in [0, 1e+06]"),
        (["optimizer=adam", "optimizer.eps=0"], "optimizer.eps=0 is out of range"),
        (["optimizer=nesterov", "optimizer.momentum=0"], "optimizer.momentum must be in (0, 1)"),
    ],
)
@pytest.mark.usefixtures("forbid_data_loading")
def test_out_of_range_hyperparameters_fail_before_data_loads(train_config, overrides, fragment):
    cfg = train_config([*FAST, *overrides])
    with pytest.raises(ConfigError) as error:
        train(cfg)
    assert fragment in str(error.value)


# A tiny run: three updates, one validation batch, nothing written.
TINY = [*FAST, "+trainer.limit_train_batches=3", "+trainer.limit_val_batches=1"]
TINY += ["logger=none", "callbacks=none", "test=false"]


@pytest.mark.parametrize("impl", ["explicit", "torch"])
@pytest.mark.parametrize("name", NAMES)
def test_every_optimizer_runs_a_tiny_train(train_config, name, impl):
    cfg = train_config([*TINY, f"optimizer={name}", f"optimizer.impl={impl}"])
    check_train_config(cfg)
    metrics = train(cfg)
    assert math.isfinite(metrics["val/loss"])
