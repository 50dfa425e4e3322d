"""The container's job as a plain process: docker stop (SIGTERM) mid-training stops after the
step with status 143 and a checkpoint; the same command started again resumes and finishes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from pytorch_lightning.utilities.exceptions import SIGTERMException
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from bp_app.runs.sigterm import EXIT_SIGINT, EXIT_SIGTERM, exit_on_signals
from tests.conftest import FAST
from tests.tensorboard_events import accumulators, hparams_rows

# 8 epochs of 40 steps: long enough after the first epoch's last.ckpt for the signal to land
# mid-training, short enough that the resumed run finishes in seconds.
STEPS_PER_EPOCH = 40  # ceil(1,257 digits in the training split / 32)
EPOCHS = 8
ARGS = [
    *(arg for arg in FAST if not arg.startswith("trainer.max_epochs=")),
    f"trainer.max_epochs={EPOCHS}",
    "data.batch_size=32",
    "trainer.log_every_n_steps=1",  # every step in TensorBoard: the resumed steps are countable
]
STOPPED = re.compile(r"SIGTERM: stopped after global step (\d+) and saved (\S+last\.ckpt)")


def container_env(tmp_path: Path) -> dict[str, str]:
    """What the image sets (BP_DATA_DIR, BP_OUTPUT_DIR), plus one thread: the model is tiny and
    CI's two cores are shared, where extra threads only contend."""
    return {
        **os.environ,
        "BP_DATA_DIR": str(tmp_path / "data"),
        "BP_OUTPUT_DIR": str(tmp_path / "outputs"),
        "PYTHONUNBUFFERED": "1",
        "OMP_NUM_THREADS": "1",
    }


def start(tmp_path: Path) -> subprocess.Popen[str]:
    """``bp-train ARGS`` as the image's ENTRYPOINT runs it (no hydra.run.dir: the default
    layout outputs/<task>/<time>/, which resume=auto searches)."""
    return subprocess.Popen(
        [sys.executable, "-m", "bp_app.train", *ARGS],
        cwd=tmp_path,
        env=container_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for_file(pattern: str, root: Path, process: subprocess.Popen, timeout: float) -> Path:
    """Poll for the first file matching ``pattern`` under ``root`` while ``process`` runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(root.glob(pattern))
        if found:
            return found[0]
        if process.poll() is not None:
            pytest.fail(
                f"bp-train ended (status {process.returncode}) before {pattern} appeared:\n"
                + process.communicate()[0][-3000:]
            )
        time.sleep(0.05)
    process.kill()
    pytest.fail(f"no {pattern} after {timeout} s:\n" + process.communicate()[0][-3000:])


def logged_steps(run_dir: Path, tag: str = "train/loss") -> list[int]:
    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0})
    return [event.step for event in events.Reload().Scalars(tag)]


def test_sigterm_checkpoints_exits_143_and_the_same_command_resumes(tmp_path):
    outputs = tmp_path / "outputs"
    first = start(tmp_path)
    # Progress marker: ModelCheckpoint's last.ckpt after the first epoch.
    wait_for_file("*/*/checkpoints/last.ckpt", outputs, first, timeout=240)
    first.send_signal(signal.SIGTERM)  # what docker stop sends
    log, _ = first.communicate(timeout=120)
    assert first.returncode == EXIT_SIGTERM, log[-3000:]
    assert "Watch it live: tensorboard --logdir" in log
    stopped = STOPPED.search(log)
    assert stopped, log[-3000:]
    saved_step, saved_path = int(stopped.group(1)), Path(stopped.group(2))
    assert STEPS_PER_EPOCH <= saved_step < EPOCHS * STEPS_PER_EPOCH, "stopped mid-training"
    checkpoint = torch.load(saved_path, map_location="cpu", weights_only=True)
    assert checkpoint["global_step"] == saved_step
    assert checkpoint["optimizer_states"], "a full checkpoint, not weights only"

    second = start(tmp_path)
    log, _ = second.communicate(timeout=300)
    assert second.returncode == 0, log[-3000:]
    assert f"Resuming from {saved_path}" in log
    assert "Watch it live: tensorboard --logdir" in log
    (resumed_run,) = [p.parent for p in outputs.glob("*/*/metrics.json")]
    assert resumed_run != saved_path.parents[1], "a new run directory"
    assert f"Resuming from {saved_path}" in (resumed_run / "train.log").read_text()
    steps = logged_steps(resumed_run)
    # The global step continues from the saved step: the resumed run logs only the rest.
    assert steps[0] == saved_step and steps[-1] == EPOCHS * STEPS_PER_EPOCH - 1
    assert len(steps) == EPOCHS * STEPS_PER_EPOCH - saved_step
    final = torch.load(resumed_run / "checkpoints" / "last.ckpt", weights_only=True)
    assert final["global_step"] == EPOCHS * STEPS_PER_EPOCH
    # HPARAMS: one row for the stopped-and-resumed run (the finished part writes it), under a
    # logdir holding both run directories; never Lightning's placeholder hp_metric.
    ((log_dir, hparams, metric_tags),) = hparams_rows(outputs)
    assert log_dir.parent == resumed_run and hparams["data.batch_size"] == 32
    assert "test/acc" in metric_tags and "hp_metric" not in metric_tags
    assert all("hp_metric" not in e.Tags()["scalars"] for _, e in accumulators(outputs))


def test_sigterm_outside_the_training_loop_exits_143_at_once():
    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as stopped, exit_on_signals():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises before this ends
    assert stopped.value.code == EXIT_SIGTERM
    assert signal.getsignal(signal.SIGTERM) is previous, "the previous handler is restored"


def test_lightnings_sigterm_exception_becomes_status_143():
    # Lightning's SIGTERMException is a SystemExit without a code, i.e. status 0.
    with pytest.raises(SystemExit) as stopped, exit_on_signals():
        raise SIGTERMException
    assert stopped.value.code == EXIT_SIGTERM


def test_ctrl_c_on_a_real_process_exits_130_and_resumes_exactly(tmp_path):
    """Ctrl-C (SIGINT from outside, at whatever step the process is in) behaves as docker stop
    does: the step finishes, last.ckpt is saved, exit 130; the resumed run ends bit for bit where
    the same run in one go ends."""
    from bp_app.train import train
    from tests.conftest import compose_config
    from tests.interrupt import differences, training_state

    settings = [
        *(arg for arg in FAST if not arg.startswith("trainer.max_epochs=")),
        "trainer.max_epochs=2",
        "trainer.deterministic=true",
        "data.batch_size=32",  # 40 steps an epoch
        "model.dropout=0.3",  # the generators matter
        "logger=none",
        "callbacks.gradient_flow=null",
        "callbacks.image_panels=null",
        "test=false",
    ]
    slow = ["+callbacks.slow._target_=tests.interrupt.SlowSteps", "+callbacks.slow.seconds=0.03"]
    run_dir = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "bp_app.train", *settings, *slow, f"hydra.run.dir={run_dir}"],
        cwd=Path(__file__).resolve().parents[1],
        env=container_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wait_for_file("checkpoints/last.ckpt", run_dir, process, timeout=240)  # epoch 1 is done
    process.send_signal(signal.SIGINT)
    log, _ = process.communicate(timeout=120)
    assert process.returncode == EXIT_SIGINT, log[-3000:]
    stopped = re.search(r"SIGINT \(Ctrl-C\): stopped after global step (\d+)", log)
    assert stopped, log[-3000:]
    assert STEPS_PER_EPOCH <= int(stopped.group(1)) < 2 * STEPS_PER_EPOCH, "stopped mid-training"
    assert "Traceback" not in log

    train(compose_config("train", settings, run_dir))  # resume=auto: continues this directory
    reference = tmp_path / "reference"
    train(compose_config("train", settings, reference))

    def state(run: Path) -> dict:
        return training_state(torch.load(run / "checkpoints" / "last.ckpt", weights_only=True))

    assert not differences(state(run_dir), state(reference))
