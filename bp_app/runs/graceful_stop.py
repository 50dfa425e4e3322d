"""Stopping safely on SIGTERM (``docker stop``) or Ctrl-C: finish the step, save, exit 143 / 130.

Lightning stops its loops after the batch in flight on SIGTERM, but saves nothing and exits 0.
``GracefulStop`` saves ``last.ckpt`` when that stop passes through ``fit``;
``bp_app.runs.sigterm.exit_on_signals`` (around the whole of bp-train) sends Ctrl-C down the same
path, turns the stop into status 143 / 130 = 128 + the signal, and ends the process at once when
no loop runs. What Lightning does on its own: docs/internals.md.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.trainer.states import TrainerFn
from pytorch_lightning.utilities.exceptions import SIGTERMException

from bp_app.runs.layout import last_checkpoint_for
from bp_app.runs.sigterm import SIGNAL_NAMES, stop_signal

log = logging.getLogger(__name__)


class GracefulStop(pl.Callback):
    """When training stops on SIGTERM, save ``last.ckpt`` where ModelCheckpoint keeps its own
    (else in ``dirpath``), so that ``resume=auto`` continues from the step that finished."""

    def __init__(self, dirpath: str | Path) -> None:
        self.dirpath = Path(dirpath)

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        # Only a stop during fit has progress to keep; a stop during test keeps fit's last.ckpt.
        if not isinstance(exception, SIGTERMException) or trainer.state.fn != TrainerFn.FITTING:
            return
        path = last_checkpoint_for(trainer, self.dirpath)
        # A full checkpoint (optimizer and loop state too), as ModelCheckpoint writes last.ckpt.
        # Every rank calls this (it holds a barrier); rank 0 writes.
        trainer.save_checkpoint(path, weights_only=False)
        if trainer.is_global_zero:
            log.warning(
                "%s: stopped after global step %d and saved %s. "
                "Start the same command again to resume from it (resume=auto).",
                SIGNAL_NAMES[stop_signal()],
                trainer.global_step,
                path,
            )
