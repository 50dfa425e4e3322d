"""The callbacks every bp-train run gets, whatever conf/callbacks/ says: the checkpoint's record
of its model and data, and what keeps a stopped or crashed run resumable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytorch_lightning as pl

from bp_app.runs.crash_checkpoint import CrashCheckpoint
from bp_app.runs.ddp_stop import AgreedStop
from bp_app.runs.exact_resume import ExactResume
from bp_app.runs.graceful_stop import GracefulStop
from bp_app.runs.layout import checkpoints_dir
from bp_app.runs.run_record import RunRecord


def run_callbacks(run_dir: Path, data_config: dict[str, Any]) -> list[pl.Callback]:
    """RunRecord (bp-eval and bp-predict need only the checkpoint), GracefulStop (SIGTERM saves
    last.ckpt; AgreedStop makes every DDP rank stop after the same step), ExactResume (each rank's
    generators saved for a bit-exact resume), CrashCheckpoint (a crash saves last.ckpt)."""
    checkpoints = checkpoints_dir(run_dir)
    return [
        RunRecord(data_config),
        GracefulStop(checkpoints),
        AgreedStop(),
        ExactResume(),
        CrashCheckpoint(checkpoints),
    ]
