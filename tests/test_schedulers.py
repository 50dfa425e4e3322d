"""Learning-rate schedules: stepped at their interval by the mixin, plateau reads val metrics."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch

from bp_app.errors import ConfigError
from bp_app.train import train
from tests.conftest import EVERY_EPOCH, FAST

# Digits with the default batch size: 1,257 training images -> 10 updates per epoch.
UPDATES_PER_EPOCH = 10
BASE = [*FAST, "logger=none", "test=false", "optimizer=sgd", "optimizer.lr=0.1", EVERY_EPOCH]


def final_lr(train_config, tmp_path: Path, overrides: list[str], schedule: bool = False):
    """The learning rate in the run's last checkpoint (saved after the epoch's schedule step)."""
    run = tmp_path / re.sub(r"[^\w.]+", "_", "_".join(overrides))
    train(train_config([*BASE, *overrides, f"paths.run_dir={run}"]))
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    group = checkpoint["optimizer_states"][0]["param_groups"][0]
    return (group, checkpoint["lr_schedulers"][0]) if schedule else group["lr"]


@pytest.mark.parametrize(
    "interval, expected",
    [("step", 0.1 * 0.5 ** (UPDATES_PER_EPOCH // 3)), ("epoch", 0.1)],
)
def test_step_schedule_follows_its_interval(train_config, tmp_path, interval, expected):
    """StepLR with step_size 3: per update it halves 3 times in 10 updates; per epoch it waits."""
    lr = final_lr(
        train_config,
        tmp_path,
        ["scheduler=step", "scheduler.step_size=3"] + [f"scheduler.interval={interval}"],
    )
    assert lr == pytest.approx(expected, rel=1e-12)


def test_cosine_fills_t_max_with_the_run_length(train_config, tmp_path):
    """T_max null is the run's length; a given T_max: η = η0 (1 + cos(π t / T_max)) / 2."""
    lr = final_lr(train_config, tmp_path, ["scheduler=cosine", "trainer.max_epochs=1"])
    assert lr == pytest.approx(0.0, abs=1e-12)  # T_max = 1 epoch: annealed to eta_min
    lr = final_lr(
        train_config,
        tmp_path,
        ["scheduler=cosine", "scheduler.interval=step", "scheduler.T_max=40"],
    )
    assert lr == pytest.approx(0.1 * (1 + math.cos(math.pi * 10 / 40)) / 2, rel=1e-12)


@pytest.mark.parametrize(
    "overrides, updates",
    [
        (["trainer.max_epochs=2"], 2 * UPDATES_PER_EPOCH),
        (["descent=batch", "trainer.max_epochs=3"], 3),
    ],
)
def test_onecycle_spans_every_update_of_the_run(train_config, tmp_path, overrides, updates):
    """total_steps null = the run's updates (one per epoch in batch descent), stepped once each;
    max_lr null = the optimizer's lr."""
    group, schedule = final_lr(train_config, tmp_path, ["scheduler=onecycle", *overrides], True)
    assert schedule["total_steps"] == updates
    assert schedule["last_epoch"] == updates  # stepped once per update
    assert group["max_lr"] == 0.1 and group["initial_lr"] == 0.1 / 25  # the warm-up's start


def test_plateau_reads_the_monitored_validation_metric(train_config, tmp_path):
    """mode=max on a falling val/loss: no epoch 'improves', so each epoch after the first cuts η."""
    overrides = ["scheduler=plateau", "scheduler.mode=max", "scheduler.patience=0"]
    lr = final_lr(train_config, tmp_path, [*overrides, "trainer.max_epochs=3"])
    assert lr == pytest.approx(0.1 * 0.5**2, rel=1e-12)


def test_plateau_with_an_unlogged_metric_names_the_metrics(train_config):
    with pytest.raises(ConfigError, match=r"scheduler.monitor='val/los' is not a logged metric"):
        train(train_config([*BASE, "scheduler=plateau", "scheduler.monitor=val/los"]))


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        (["scheduler=step", "scheduler.gamma=0"], "scheduler.gamma=0 is out of range"),
        (["scheduler=step", "scheduler.step_size=0"], "an integer in [1, inf)"),
        (["scheduler=plateau", "scheduler.factor=1.5"], "a number in (0, 1)"),
        (["scheduler=plateau", "scheduler.interval=step"], "set scheduler.interval=epoch"),
        (["scheduler=cosine", "scheduler.interval=batch"], "must be 'step' or 'epoch'"),
        (["scheduler=step", "+scheduler.T_max=3"], "Unknown config key 'scheduler.T_max'"),
        (["scheduler=onecycle", "scheduler.pct_start=1.0"], "scheduler.pct_start=1.0"),
        (["scheduler.name=linear"], "scheduler.name='linear' is unknown"),
    ],
)
@pytest.mark.usefixtures("forbid_data_loading")
def test_bad_schedules_fail_at_config_time(train_config, overrides, fragment):
    with pytest.raises(ConfigError) as error:
        train(train_config([*FAST, *overrides]))
    assert fragment in str(error.value)
