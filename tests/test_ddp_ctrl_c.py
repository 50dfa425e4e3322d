"""Ctrl-C under DDP takes SIGTERM's path (issue 22): the terminal sends SIGINT to every rank,
all stop after the same step, rank 0 saves last.ckpt once, and every rank exits 130.

Two ranks with gloo on the CPU, started as tests/test_ddp_faults.py starts them; the resume
from that checkpoint is the SIGTERM test's (the same save), so it is not repeated here.
"""

from __future__ import annotations

import re

import pytest
import torch

from bp_app.runs.sigterm import EXIT_SIGINT
from tests.ranks import finish, start_ranks

STOP_AT = 3  # mid epoch 1 of 2 (5 steps each)
STOPPED = re.compile(
    r"SIGINT \(Ctrl-C\): stopped after global step (\d+) and saved (\S+last\.ckpt)"
)


@pytest.mark.slow
def test_ctrl_c_to_every_rank_stops_them_after_one_step_saves_once_and_exits_130(tmp_path):
    args = [
        "trainer.max_epochs=2",
        "trainer.enable_progress_bar=false",
        "trainer.enable_model_summary=false",
        "data.batch_size=128",  # 1,257 digits / 2 ranks / 128: 5 steps per epoch
        "model.hidden_sizes=[16]",
        "+callbacks.stop._target_=tests.interrupt.CtrlCJobAt",
        f"+callbacks.stop.step={STOP_AT}",
        f"hydra.run.dir={tmp_path}/run",
    ]
    results = finish(start_ranks(tmp_path, args), timeout=120)
    outputs = "".join(output for _, output in results)
    assert [status for status, _ in results] == [EXIT_SIGINT] * 2, outputs[-3000:]
    assert "Traceback" not in outputs and "KeyboardInterrupt" not in outputs, outputs[-3000:]
    saves = [m.groups() for m in STOPPED.finditer(outputs)]
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert saves == [(str(STOP_AT), str(last))], outputs[-3000:]  # rank 0, once
    checkpoint = torch.load(last, weights_only=True)
    assert checkpoint["global_step"] == STOP_AT  # every rank stopped after that same step
    assert not (tmp_path / "run" / "metrics.json").exists()  # unfinished: resume=auto continues
