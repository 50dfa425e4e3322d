"""Exact resume: a run interrupted after k steps (killed, stopped by SIGTERM, or crashed) and
resumed with ckpt_path=last ends bitwise where the same run done in one go ends: weights,
optimizer state, scheduler state and global step, on the CPU with trainer.deterministic=true.

The model has dropout (so the random generators matter), the data are shuffled every epoch,
the optimizer is Adam (state to restore) and the learning rate is stepped every epoch.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from pytorch_lightning.utilities.exceptions import SIGTERMException

from bp_app.runs import exact_resume
from bp_app.runs.sigterm import EXIT_SIGINT, exit_on_signals
from bp_app.train import train
from tests.conftest import FAST, compose_config
from tests.interrupt import Interrupted, differences, training_state

# digits: 1,257 training images; batch 128 -> 10 steps an epoch, 3 epochs = 30 steps.
MINIBATCH = [
    *(arg for arg in FAST if not arg.startswith("trainer.max_epochs")),
    "trainer.max_epochs=3",
    "trainer.deterministic=true",
    "logger=none",
    "callbacks.gradient_flow=null",
    "callbacks.image_panels=null",
    "model.dropout=0.3",
    "optimizer=adam",
    "scheduler=step",
    "scheduler.step_size=1",
    "data.batch_size=128",
    "test=false",
]
# Batch descent in 3 chunks of 512 a epoch (the gradient is accumulated), one update an epoch.
BATCH = [*MINIBATCH, "descent=batch", "data.batch_size=512", "trainer.max_epochs=4"]


def run(tmp_path: Path, name: str, overrides: list[str]) -> Path:
    """Train in-process in tmp_path/<task>/name, as bp-train lays runs out; return that folder."""
    run_dir = tmp_path / "mlp_digits" / name
    cfg = compose_config("train", [*overrides, f"paths.output_dir={tmp_path}"], run_dir)
    train(cfg)
    return run_dir


def crash_at(epoch: int, batch: int, hook: str = "batch_start") -> list[str]:
    return [
        "+callbacks.crash._target_=tests.interrupt.CrashAt",
        f"+callbacks.crash.epoch={epoch}",
        f"+callbacks.crash.batch={batch}",
        f"+callbacks.crash.hook={hook}",
    ]


def last(run_dir: Path) -> dict:
    return torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)


def assert_same_end(resumed: Path, reference: Path) -> None:
    diff = differences(training_state(last(resumed)), training_state(last(reference)))
    assert not diff, f"resumed run differs from the run in one go at: {diff[:5]}"


@pytest.fixture(scope="module")
def in_one_go(tmp_path_factory) -> Path:
    """The reference run, which also saves every 7th step (mid-epoch) as if killed there."""
    tmp_path = tmp_path_factory.mktemp("one_go")
    every_7 = [
        "+callbacks.every_7._target_=pytorch_lightning.callbacks.ModelCheckpoint",
        f"+callbacks.every_7.dirpath={tmp_path / 'mlp_digits' / 'steps'}",
        "+callbacks.every_7.every_n_train_steps=7",
        "+callbacks.every_7.save_top_k=-1",
    ]
    return run(tmp_path, "reference", [*MINIBATCH, *every_7])


@pytest.mark.parametrize("step", [7, 14])
def test_killed_mid_epoch_resumes_exactly(in_one_go, tmp_path, step):
    # A kill loses everything after the last checkpoint: resume from the one at this step.
    (saved,) = (in_one_go.parent / "steps").glob(f"*-step={step}.ckpt")
    assert torch.load(saved, weights_only=True)["global_step"] == step
    resumed = run(tmp_path, "resumed", [*MINIBATCH, f"ckpt_path='{saved}'"])
    assert_same_end(resumed, in_one_go)


def test_resume_without_the_saved_generators_differs(in_one_go, tmp_path, monkeypatch):
    # The check above can fail: dropout masks drawn from other generator states change the end.
    (saved,) = (in_one_go.parent / "steps").glob("*-step=7.ckpt")
    monkeypatch.setattr(exact_resume, "restore_generators", lambda state: None)
    resumed = run(tmp_path, "resumed", [*MINIBATCH, f"ckpt_path='{saved}'"])
    assert differences(last(resumed)["state_dict"], last(in_one_go)["state_dict"])


@pytest.mark.parametrize("hook", ["batch_start", "before_update"])
def test_crash_saves_last_and_ckpt_path_last_resumes_exactly(in_one_go, tmp_path, hook):
    # Epoch 1, batch 3: after 13 steps. before_update crashes inside step 14, after its backward.
    with pytest.raises(Interrupted):
        run(tmp_path, "crashed", [*MINIBATCH, *crash_at(epoch=1, batch=3, hook=hook)])
    crashed = tmp_path / "mlp_digits" / "crashed"
    saved = last(crashed)
    assert saved["global_step"] == 13
    loader = saved["loops"]["fit_loop"]["state_dict"]["combined_loader"][0]
    assert loader == {"epoch": 1, "batches_done": 3}, "the failed batch is redone"
    assert not (crashed / "metrics.json").exists()
    run(tmp_path, "crashed", [*MINIBATCH, "ckpt_path=last"])  # the same folder, continued
    assert_same_end(crashed, in_one_go)


def test_sigterm_stop_resumes_exactly(in_one_go, tmp_path):
    sigterm = ["+callbacks.stop._target_=tests.interrupt.SigtermAt", "+callbacks.stop.step=23"]
    with pytest.raises(SIGTERMException):
        run(tmp_path, "stopped", [*MINIBATCH, *sigterm])
    assert last(tmp_path / "mlp_digits" / "stopped")["global_step"] == 23
    # ckpt_path=last from a new run directory: the newest last.ckpt of this task.
    resumed = run(tmp_path, "resumed", [*MINIBATCH, "ckpt_path=last"])
    assert_same_end(resumed, in_one_go)


@pytest.mark.parametrize("step", [1, 10, 23])  # the first step, an epoch's end, mid-epoch
def test_ctrl_c_stops_after_the_step_exits_130_and_resumes_exactly(in_one_go, tmp_path, step):
    ctrl_c = [
        "+callbacks.stop._target_=tests.interrupt.SigtermAt",
        f"+callbacks.stop.step={step}",
        "+callbacks.stop.name=SIGINT",
    ]
    with pytest.raises(SystemExit) as stopped, exit_on_signals():  # as bp-train's main runs it
        run(tmp_path, "stopped", [*MINIBATCH, *ctrl_c])
    assert stopped.value.code == EXIT_SIGINT == 130
    assert last(tmp_path / "mlp_digits" / "stopped")["global_step"] == step
    resumed = run(tmp_path, "resumed", [*MINIBATCH, "ckpt_path=last"])
    assert_same_end(resumed, in_one_go)


def test_batch_descent_resumes_exactly_mid_epoch(tmp_path):
    reference = run(tmp_path, "reference", BATCH)
    assert last(reference)["global_step"] == 4  # one update an epoch
    # Between chunks 1 and 2 of epoch 2: the checkpoint carries chunk 1's accumulated gradient.
    with pytest.raises(Interrupted):
        run(tmp_path, "crashed", [*BATCH, *crash_at(epoch=2, batch=1)])
    crashed = tmp_path / "mlp_digits" / "crashed"
    saved = last(crashed)
    assert saved["global_step"] == 2 and saved["bp_app_resume"]["accumulated_grad"]
    run(tmp_path, "crashed", [*BATCH, "ckpt_path=last"])
    assert_same_end(crashed, reference)


def test_batch_descent_crash_inside_a_chunk_keeps_the_epoch_checkpoint(tmp_path):
    reference = run(tmp_path, "reference", BATCH)
    # Inside the last chunk's step of epoch 2: its gradient is half added, so nothing is saved
    # and last.ckpt stays at the end of epoch 1.
    with pytest.raises(Interrupted):
        run(tmp_path, "crashed", [*BATCH, *crash_at(epoch=2, batch=2, hook="before_update")])
    crashed = tmp_path / "mlp_digits" / "crashed"
    loader = last(crashed)["loops"]["fit_loop"]["state_dict"]["combined_loader"][0]
    assert loader == {"epoch": 1, "batches_done": 3}, "last.ckpt is still epoch 1's"
    run(tmp_path, "crashed", [*BATCH, "ckpt_path=last"])
    assert_same_end(crashed, reference)
