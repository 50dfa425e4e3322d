"""Lightning's TensorBoard logger without a file flush after every logging step.

Lightning calls the logger's ``save()`` after each ``log_metrics``, and ``SummaryWriter.flush()``
waits for the event file's writer thread: a large share of a logging step's cost on a CPU. The
writer's own thread flushes every ``flush_secs`` seconds anyway, so here that save flushes at
most once per ``flush_secs``; every other save (the end of fit or test, a stop, the final
hparams row) flushes at once.
"""

from __future__ import annotations

import time
from typing import Any

from lightning_utilities.core.rank_zero import rank_zero_only
from pytorch_lightning.loggers import TensorBoardLogger as LightningTensorBoardLogger


class TensorBoardLogger(LightningTensorBoardLogger):
    """``logger=tensorboard``: event files flushed every ``flush_secs`` seconds while training."""

    def __init__(self, *args: Any, flush_secs: int = 5, **kwargs: Any) -> None:
        # flush_secs also sets the SummaryWriter's background flush: TensorBoard shows a live
        # run at most this many seconds late.
        super().__init__(*args, flush_secs=flush_secs, **kwargs)
        self.flush_secs = flush_secs
        self._flushed_at = 0.0
        self._metrics_pending = False  # log_metrics ran and Lightning's save() is to follow

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        super().log_metrics(metrics, step)
        self._metrics_pending = True

    @rank_zero_only
    def save(self) -> None:
        after_log_metrics, self._metrics_pending = self._metrics_pending, False
        now = time.monotonic()
        if after_log_metrics and now - self._flushed_at < self.flush_secs:
            return  # the per-step save: the writer thread flushes within flush_secs
        self._flushed_at = now
        super().save()
