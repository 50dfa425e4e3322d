"""When a benchmarked process starts fitting and finishes testing: FitClock writes it as JSON.

Kept apart from the benchmarks so that a bp-train process it is added to imports nothing more.
"""

from __future__ import annotations

import time
from typing import Any

import pytorch_lightning as pl

from bp_app.benchmarks.clock_file import write_clock


class FitClock(pl.Callback):
    """Records the wall-clock time of fit's start and of the end of testing (or of fit)."""

    def __init__(self, record: str) -> None:
        self.record = record
        self.fit_started = 0.0

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.fit_started = time.time()

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        write_clock(self.record, self.fit_started, time.time())  # rewritten if a test follows

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        write_clock(self.record, self.fit_started, time.time())

    def state_dict(self) -> dict[str, Any]:
        return {}
