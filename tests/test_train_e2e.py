"""bp-train end to end, as a user runs it: the run directory, the event file, metrics.json."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.conftest import ONE_THREAD, REPO, run_command

BP_TRAIN = shutil.which("bp-train", path=str(Path(sys.executable).parent))


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """One real `bp-train` run through the console script, shared by the checks below."""
    run = tmp_path_factory.mktemp("e2e") / "run"
    result = subprocess.run(
        [BP_TRAIN, f"hydra.run.dir={run}", "trainer.max_epochs=2", "trainer.log_every_n_steps=2"],
        cwd=tmp_path_factory.getbasetemp(),
        env={**os.environ, **ONE_THREAD},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return run, result


def test_run_directory_holds_config_checkpoints_events_and_metrics(finished_run):
    run, result = finished_run
    assert (run / ".hydra" / "config.yaml").is_file()
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert list((run / "checkpoints").glob("best-*.ckpt"))
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics) >= {"val/loss", "val/acc", "test/loss", "test/acc"}
    assert 0.0 <= metrics["test/acc"] <= 1.0
    assert f"test/acc = {metrics['test/acc']:.4f}" in result.stdout
    assert "tensorboard --logdir" in result.stdout
    # The command's process froze torch's and Lightning's objects (bp_app/runs/heap.py).
    frozen = re.search(r"garbage collector's walks: (\d+) objects", result.stdout + result.stderr)
    assert frozen and int(frozen.group(1)) > 100_000


def test_event_file_has_the_design_tags(finished_run):
    run, _ = finished_run
    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"train/loss", "train/acc", "val/loss", "val/acc", "test/acc", "lr"} <= scalars
    losses = [e.value for e in events.Scalars("train/loss")]
    assert len(losses) >= 2 and all(v > 0 for v in losses)
    # Validation points go forward in steps: the final metrics are not re-logged at step 0.
    val_steps = [e.step for e in events.Scalars("val/loss")]
    assert val_steps == sorted(val_steps) and val_steps[0] > 0
    # The hyperparameters were logged with the final metrics (TensorBoard's HPARAMS tab).
    assert events.PluginTagToContent("hparams")


def test_checkpoint_loads_with_weights_only_and_names_its_model(finished_run):
    run, _ = finished_run
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["bp_app"]["model_target"] == "bp_app.models.mlp.MLPClassifier"
    assert checkpoint["hyper_parameters"]["optimizer"]["name"] == "adam"


def test_bp_eval_reproduces_the_test_metrics_of_the_best_checkpoint(finished_run, tmp_path):
    run, _ = finished_run
    best = next((run / "checkpoints").glob("best-*.ckpt"))
    result = run_command(
        "bp_app.evaluate", [f"ckpt_path={best}", f"hydra.run.dir={tmp_path}"], REPO
    )
    assert result.returncode == 0, result.stderr[-3000:]
    test_acc = json.loads((run / "metrics.json").read_text())["test/acc"]
    assert f"test/acc = {test_acc:.4f}" in result.stdout
    assert "garbage collector's walks" in result.stdout + result.stderr  # bp-eval froze too
