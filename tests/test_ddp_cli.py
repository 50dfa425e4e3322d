"""`bp-train trainer=ddp_cpu` from the command line: two gloo processes, one run.

Lightning starts rank 1 by re-running the Hydra command with ``hydra.run.dir`` set to rank 0's
run directory, so both ranks share it and only rank 0 writes events, checkpoints and metrics.
A multirun (-m) would make that re-run repeat the whole sweep, so bp-train refuses it up front.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.conftest import FAST

BP_TRAIN = shutil.which("bp-train", path=str(Path(sys.executable).parent))
SHORT = [
    "+trainer.limit_train_batches=2",
    "+trainer.limit_val_batches=1",
    "+trainer.limit_test_batches=1",
    "trainer.log_every_n_steps=1",
]


def bp_train(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BP_TRAIN, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """One real ``bp-train trainer=ddp_cpu`` run, shared by the checks below."""
    cwd = tmp_path_factory.mktemp("ddp_cli")
    result = bp_train(["trainer=ddp_cpu", f"hydra.run.dir={cwd / 'run'}", *FAST, *SHORT], cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    return cwd, result


def test_ddp_cpu_trains_with_two_processes_and_finishes(ddp_run):
    cwd, result = ddp_run
    assert "MEMBER: 1/2" in result.stderr and "MEMBER: 2/2" in result.stderr
    metrics = json.loads((cwd / "run" / "metrics.json").read_text())
    assert {"val/loss", "val/acc", "test/loss", "test/acc"} <= set(metrics)
    assert result.stdout.count("bp-train finished") == 1  # rank 0 reports, once
    checkpoint = torch.load(cwd / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["global_step"] == 2  # limit_train_batches=2 steps, each on both ranks


def test_ddp_cpu_writes_one_run_directory_and_one_set_of_event_files(ddp_run):
    cwd, _ = ddp_run
    assert sorted(p.name for p in cwd.iterdir()) == ["run"]  # no second run dir, no outputs/
    run = cwd / "run"
    assert (run / ".hydra" / "config.yaml").is_file()
    events = list((run / "tensorboard").glob("events.out.tfevents.*"))
    # Event file names end in <host>.<pid>.<n>: every one written by the same (rank 0) process.
    writers = {re.match(r"events\.out\.tfevents\.\d+\.(.+)\.\d+$", e.name).group(1) for e in events}
    assert events and len(writers) == 1, [e.name for e in events]
    assert len(list((run / "checkpoints").glob("best-*.ckpt"))) == 1


def test_multirun_with_ddp_cpu_fails_up_front_with_the_fix(tmp_path):
    sweep = tmp_path / "sweep"
    result = bp_train(
        ["-m", "trainer=ddp_cpu", "seed=1,2", f"hydra.sweep.dir={sweep}", *FAST, *SHORT], tmp_path
    )
    assert result.returncode == 2
    assert "bp-train: error: a multirun (-m) cannot use trainer.strategy=ddp" in result.stderr
    assert "trainer.strategy=ddp_spawn" in result.stderr
    assert "Traceback" not in result.stderr
    assert "MEMBER: 2/2" not in result.stderr  # no second process was started
    assert not list(sweep.rglob("*.ckpt")) and not list(sweep.rglob("metrics.json"))
