"""NaN guard: a non-finite loss, gradient or weight stops the run naming the step, the stage and
the layer, and the last good checkpoint stays; action=skip skips such updates and counts them."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
import torch

from bp_app.callbacks.nan_guard import NonFiniteError
from bp_app.train import train
from tests.conftest import FAST, REPO, run_command

QUIET = ["logger=none", "callbacks.gradient_flow=null", "callbacks.image_panels=null"]
# A forecaster trained by plain SGD at lr 1e6: the weights blow up within a few steps.
DIVERGING = ["model=forecaster", "data=sine", "model.cell=mlp", "optimizer=sgd", "optimizer.lr=1e6"]
# digits with batch 128: 10 steps an epoch; last.ckpt after step 10 and step 20.
TWO_EPOCHS = [*FAST, *QUIET, "trainer.max_epochs=2", "data.batch_size=128", "test=false"]


def poison(batches: list[int], target: str) -> list[str]:
    return [
        "+callbacks.poison._target_=tests.interrupt.PoisonAt",
        f"+callbacks.poison.batches={batches}",
        f"+callbacks.poison.target={target}",
    ]


def test_learning_rate_1e6_stops_with_step_stage_and_layer(train_config, tmp_path):
    with pytest.raises(NonFiniteError) as error:
        train(train_config([*FAST, *QUIET, *DIVERGING, "trainer.max_epochs=3"]))
    message = str(error.value)
    assert "NaN guard: non-finite values at training step" in message
    assert re.search(r"stage (loss|gradient|parameter): .*layer 'net\.", message), message
    assert "optimizer.lr" in message and "ckpt_path=last" in message  # the fixes
    for saved in (tmp_path / "run").rglob("*.ckpt"):  # nothing non-finite was ever written
        weights = torch.load(saved, weights_only=True)["state_dict"].values()
        assert all(torch.isfinite(w).all() for w in weights if w.is_floating_point())


@pytest.mark.parametrize("target", ["gradient", "parameter"])
def test_stop_names_the_stage_and_keeps_the_last_good_checkpoint(train_config, tmp_path, target):
    # Step 13 (epoch 1, batch 3) goes bad; the guard reads its record before epoch 1's save.
    with pytest.raises(NonFiniteError) as error:
        train(train_config([*TWO_EPOCHS, *poison([13], target)]))
    message = str(error.value)
    assert "training step 13 (epoch 1, batch 3), found before writing a checkpoint" in message
    assert f"stage {target}" in message and "layer 'net.layers.0.weight'" in message
    last = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["global_step"] == 10, "last.ckpt is still epoch 0's"
    assert all(torch.isfinite(w).all() for w in last["state_dict"].values())
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_skip_drops_bad_updates_and_counts_them(train_config, tmp_path):
    cfg = train_config(
        [
            *TWO_EPOCHS,
            "logger=csv",
            "trainer.log_every_n_steps=1",
            "callbacks.nan_guard.action=skip",
            *poison([3, 7], "gradient"),
        ]
    )
    train(cfg)
    last = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["global_step"] == 18, "20 batches, 2 updates skipped"
    assert all(torch.isfinite(w).all() for w in last["state_dict"].values())
    (metrics,) = (tmp_path / "run").rglob("metrics.csv")
    counts = [
        float(r["train/skipped_steps"])
        for r in csv.DictReader(metrics.open())
        if r.get("train/skipped_steps")
    ]
    assert max(counts) == 2


def test_skip_fails_after_max_skips_in_a_row(train_config):
    cfg = train_config(
        [
            *TWO_EPOCHS,
            "callbacks.nan_guard.action=skip",
            "callbacks.nan_guard.max_skips=3",
            *poison(list(range(4, 20)), "gradient"),
        ]
    )
    with pytest.raises(
        NonFiniteError, match=r"3 updates in a row had non-finite gradients.*step 4 "
    ):
        train(cfg)


def test_bp_train_exits_2_with_the_guards_message(tmp_path: Path):
    result = run_command(
        "bp_app.train",
        [f"hydra.run.dir={tmp_path / 'run'}", *FAST, *QUIET, *DIVERGING],
        REPO,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "bp-train: error: NaN guard: non-finite values at training step" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_step_group_reads_the_gradients_of_its_last_step_only(monkeypatch):
    """With data.steps_per_batch=4 the guard keeps each batch's last step: the three steps
    before it launch no gradient norms (one call per batch for gradients, one for weights)."""
    from bp_app.callbacks import nan_guard
    from bp_app.models.mlp import MLPClassifier
    from tests.conftest import RandomImages, quiet_trainer

    calls = []
    real_norms = nan_guard.norms
    monkeypatch.setattr(nan_guard, "norms", lambda tensors: calls.append(1) or real_norms(tensors))
    model = MLPClassifier(input_shape=[1, 2, 3], num_classes=4, optimizer={"name": "sgd"})
    data = RandomImages(batch_size=2, steps_per_batch=4)  # 40 images: 20 steps in 5 batches
    guard = nan_guard.NaNGuard()
    quiet_trainer(max_epochs=1, callbacks=[guard], limit_val_batches=0).fit(model, datamodule=data)
    assert model.global_step == 20
    assert len(calls) == 1 + 5 * 2  # on_train_start's weights, then per batch: gradients, weights
    assert int(guard.first_step) == -1  # finite all along
