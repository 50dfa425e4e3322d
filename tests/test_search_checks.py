"""A search's bad input fails with one line naming the entry and the fix, before any trial."""

from __future__ import annotations

import subprocess
import sys

import optuna
import pytest

from bp_app.errors import ConfigError
from bp_app.search.checks import check_search
from bp_app.search.space import SearchSpace, parse_param
from tests.conftest import compose_config


def test_the_sweep_syntax_becomes_optuna_distributions():
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    space = SearchSpace.from_config(
        {
            "optimizer": "choice(sgd, adam)",
            "optimizer.lr": "tag(log, interval(1e-4, 1e-1))",
            "data.batch_size": "range(32, 129, 32)",
            "model.hidden_sizes": "choice([32], [64, 32])",
            "trainer.max_epochs": "tag(int, interval(2, 5))",
            "regularization": "choice(l1)",
        },
        {"regularization=l1": {"regularization.l1": "interval(0.0, 0.001)"}},
    )
    overrides = dict(o.split("=", 1) for o in space.suggest(trial))
    assert overrides["optimizer"] in ("sgd", "adam")
    assert 1e-4 <= float(overrides["optimizer.lr"]) <= 1e-1
    assert overrides["data.batch_size"] in ("32", "64", "96", "128")
    assert overrides["model.hidden_sizes"] in ("[32]", "[64,32]")
    assert overrides["trainer.max_epochs"] in ("2", "3", "4", "5")
    assert 0.0 <= float(overrides["regularization.l1"]) <= 0.001  # its choice was taken
    distributions = trial.distributions
    assert distributions["optimizer.lr"].log and not distributions["trainer.max_epochs"].log


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("choice()", "cannot be read: .*empty choice"),
        ("range(5, 5)", "empty range"),
        ("interval(0.1, 0.1)", "empty interval"),
        ("tag(log, interval(0, 1))", "log interval needs a lower bound above 0"),
        ("0.1", "one value, not a range"),
    ],
)
def test_empty_or_unreadable_ranges_name_the_entry(text, message):
    with pytest.raises(ConfigError, match=f"hydra.sweeper.params.optimizer.lr.*{message}"):
        parse_param("optimizer.lr", text)


def test_a_condition_must_name_a_listed_option():
    with pytest.raises(ConfigError, match="conditional.regularization=l3: regularization"):
        SearchSpace.from_config(
            {"regularization": "choice(l1, l2)"}, {"regularization=l3": {"x.y": "interval(0,1)"}}
        )


@pytest.mark.parametrize(
    ("params", "fixed", "message"),
    [
        ({"optimizer.lrr": "interval(0.1, 0.2)"}, [], "params.optimizer.lrr: .* does not compose"),
        ({"optimizer": "choice(adam, adamm)"}, [], "params.optimizer: optimizer=adamm does not"),
        ({"optimizer.lr": "interval(0.0, 0.1)"}, [], "optimizer.lr=0.0 is not a value bp-train"),
        (
            {"optimizer.lr": "interval(0.1, 0.2)"},
            ["optimized_metric=val/accuracy"],
            "optimized_metric=val/accuracy is not a metric MLPClassifier logs .* val/loss, val/acc",
        ),
    ],
)
def test_wrong_keys_options_values_and_objectives_fail_before_any_trial(
    tmp_path, params, fixed, message
):
    def compose(overrides):
        return compose_config("train", ["hparams_search=mlp_digits", *overrides], tmp_path / "r")

    with pytest.raises(ConfigError, match=message):
        check_search(SearchSpace.from_config(params, None), compose, fixed, "maximize")


def test_bp_train_prints_one_line_and_starts_no_trial(tmp_path):
    sweep = tmp_path / "search"
    result = subprocess.run(
        [sys.executable, "-m", "bp_app.train", "-m", "hparams_search=mlp_digits",
         "optimizer.lrr=interval(0.1,0.2)", f"hydra.sweep.dir={sweep}"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-2000:]
    (line,) = [s for s in result.stderr.splitlines() if s.startswith("bp-train: error:")]
    assert "hydra.sweeper.params.optimizer.lrr" in line and "does not compose" in line
    assert not sweep.exists() or not any(sweep.iterdir()), "nothing written, no trial run"


@pytest.mark.parametrize("name", ["cnn_digits", "sentiment_negation"])  # mlp: test_search
def test_every_shipped_search_composes_for_every_option(tmp_path, name):
    def compose(overrides):
        return compose_config("train", [f"hparams_search={name}", *overrides], tmp_path / "r")

    sweeper = compose([]).hydra.sweeper
    assert sweeper._target_.endswith("BPOptunaSweeper") and sweeper.direction == "maximize"
    space = SearchSpace.from_config(sweeper.params, sweeper.conditional)
    cfg = check_search(space, compose, [], sweeper.direction)
    assert cfg.optimized_metric == "val/acc" and cfg.callbacks.trial_pruning.pruner
