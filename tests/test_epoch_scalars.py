"""Every run draws training curves: epoch means of loss, penalty, accuracy and the gradient
check, and the first step's values, read back from the real TensorBoard event files."""

from __future__ import annotations

import pytest

from bp_app.train import train
from tests.tensorboard_events import read_events

QUIET = [
    "trainer.accelerator=cpu",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
]


def test_thirty_steps_show_epoch_curves_and_the_check(train_config, tmp_path):
    """Digits for 3 epochs (30 steps, fewer than log_every_n_steps = 50): no per-step point
    but the first, yet every epoch's means."""
    cfg = train_config(
        [*QUIET, "trainer.max_epochs=3", "regularization=l1", "model.backprop=check"]
    )
    train(cfg)
    scalars, _ = read_events(tmp_path / "run" / "tensorboard")
    for tag in (
        "train/loss_epoch",
        "train/penalty_epoch",
        "train/acc_epoch",
        "train/sparsity_epoch",
        "train/grad_check_rel_err_epoch",
    ):
        assert len(scalars[tag]) == 3, tag  # one point per epoch
    losses = [v for _, v in scalars["train/loss_epoch"]]
    assert losses[0] > losses[-1] > 0  # Adam on digits: the mean training loss falls
    # λ Σ|w| with λ = 1e-4 and about 9,500 weights of |w| ~ 0.06 at the start
    assert all(0.01 < v < 0.1 for _, v in scalars["train/penalty_epoch"])
    assert 0.1 < scalars["train/acc_epoch"][-1][1] <= 1
    # The gradient check: at the first step (step 0) and as each epoch's largest error.
    assert [s for s, _ in scalars["train/grad_check_rel_err"]] == [0]
    assert all(0 <= v < 1e-4 for _, v in scalars["train/grad_check_rel_err_epoch"])
    # The first step's own values, at step 0: the per-step curves start where training does.
    for tag in ("train/loss", "train/penalty", "train/acc", "train/sparsity", "lr"):
        assert scalars[tag][0][0] == 0, tag
    assert scalars["train/loss"][0][1] == pytest.approx(2.3, abs=0.2)  # about log 10 at start


def test_epoch_loss_is_the_full_data_mean(train_config, tmp_path):
    """Batch descent: Lightning's size-weighted epoch mean of the chunks (train/loss) and the
    mixin's device sums (train/loss_epoch) are two computations of the same full-data loss."""
    cfg = train_config(
        [*QUIET, "trainer.max_epochs=2", "descent=batch", "data.batch_size=500", "test=false"]
    )
    train(cfg)
    scalars, _ = read_events(tmp_path / "run" / "tensorboard")
    lightning = [v for _, v in scalars["train/loss"]]
    mixin = [v for _, v in scalars["train/loss_epoch"]]
    assert len(mixin) == 2 and mixin == pytest.approx(lightning, rel=1e-5)
