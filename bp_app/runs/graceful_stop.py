"""Stopping safely on SIGTERM (what ``docker stop`` sends): finish the step, save, exit 143.

Lightning 2.6 does the first part itself. While ``fit`` or ``test`` runs, its signal connector
holds the SIGTERM handler; the handler only records the signal (``trainer.received_sigterm``),
and the loops raise ``SIGTERMException`` once the batch in flight is done (under DDP, rank 0
broadcasts the signal so every rank stops after the same step). It writes no checkpoint, and
``SIGTERMException`` is a ``SystemExit`` without a code, so the process would exit with status 0.
Outside its loops SIGTERM keeps its default action, which a container's PID 1 ignores.

Two additions close the gap: ``GracefulStop`` saves ``last.ckpt`` when that exception passes
through ``fit``, and ``exit_on_sigterm`` (around the whole of ``bp-train``) turns it into status
143 = 128 + SIGTERM and ends the process at once when no loop is running.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.trainer.states import TrainerFn
from pytorch_lightning.utilities.exceptions import SIGTERMException

from bp_app.runs.layout import last_checkpoint_for

log = logging.getLogger(__name__)

EXIT_SIGTERM = 128 + signal.SIGTERM  # 143: how shells and Docker report "ended by SIGTERM"


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
                "SIGTERM: stopped after global step %d and saved %s. "
                "Start the same command again to resume from it (resume=auto).",
                trainer.global_step,
                path,
            )


def _exit_now(signum: int, frame: FrameType | None) -> None:
    """SIGTERM outside Lightning's loops: nothing is in flight, so end with status 143 now.

    Inside ``fit``/``test`` Lightning's own handler is installed and calls this one after it
    (it chains the handler it found); then the loop stops after the step instead, so do nothing.
    """
    if signal.getsignal(signal.SIGTERM) is _exit_now:
        raise SystemExit(EXIT_SIGTERM)


@contextmanager
def exit_on_sigterm() -> Iterator[None]:
    """Within this block SIGTERM ends the process with status 143, after the step in flight."""
    if threading.current_thread() is not threading.main_thread():
        yield  # Python delivers signals to the main thread only: leave them to it
        return
    previous: Any = signal.signal(signal.SIGTERM, _exit_now)
    try:
        yield
    except SIGTERMException:
        raise SystemExit(EXIT_SIGTERM) from None
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
