"""A torchrun launch of 2 CPU processes trains: Lightning takes torchrun's ranks as they are.

torchrun starts every rank itself and sets TORCHELASTIC_RUN_ID, RANK, LOCAL_RANK and WORLD_SIZE;
Lightning then detects the TorchElastic environment and starts no process of its own (its
re-run launcher would leave a ``train_ddp_process_1.log`` in the run directory). ``torchrun`` is
``python -m torch.distributed.run``; the module form runs it with this interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import FAST


def test_torchrun_standalone_two_cpu_processes_train(tmp_path):
    run = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "bp_app.train",
        "trainer=ddp_cpu",
        f"hydra.run.dir={run}",
        *FAST,
        "+trainer.limit_train_batches=2",
        "+trainer.limit_val_batches=1",
        "+trainer.limit_test_batches=1",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]

    assert "MEMBER: 1/2" in result.stderr and "MEMBER: 2/2" in result.stderr
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"val/loss", "test/loss", "test/acc"} <= set(metrics)
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert not (run / "train_ddp_process_1.log").exists()  # Lightning launched nothing itself
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
