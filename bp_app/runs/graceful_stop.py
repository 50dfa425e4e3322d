"""Stopping safely on SIGTERM (``docker stop``) or Ctrl-C: finish the step, save, exit 143 / 130.

Lightning stops its loops after the batch in flight on SIGTERM, but saves nothing and exits 0;
Ctrl-C it turns into a KeyboardInterrupt wherever the program is (e.g. after the loader
advanced), which no checkpoint can resume exactly. ``GracefulStop`` saves ``last.ckpt`` when the
stop passes through ``fit``; ``exit_on_signals`` (around the whole of bp-train) sends Ctrl-C
down Lightning's SIGTERM path while a loop runs (a second Ctrl-C stops at once, saving nothing
new) and ends the process with 128 + the signal (143, 130): at once when no loop runs.
What Lightning does on its own: docs/internals.md.
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
EXIT_SIGINT = 128 + signal.SIGINT  # 130: "ended by Ctrl-C"
SIGNAL_NAMES = {signal.SIGTERM: "SIGTERM", signal.SIGINT: "SIGINT (Ctrl-C)"}

# The signal that asked this process to stop (the first one), while ``exit_on_signals`` runs.
_requested: dict[str, int | None] = {"signal": None}


def stop_signal() -> int:
    """The signal that stopped the run (SIGTERM when none was recorded: Lightning's own)."""
    return _requested["signal"] or signal.SIGTERM


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


def _exit_now(signum: int, frame: FrameType | None) -> None:
    """SIGTERM outside Lightning's loops: nothing is in flight, so end with status 143 now.

    Inside ``fit``/``test`` Lightning's own handler is installed and calls this one after it
    (it chains the handler it found); then the loop stops after the step instead: only record it.
    """
    _requested["signal"] = _requested["signal"] or signum
    if signal.getsignal(signal.SIGTERM) is _exit_now:
        raise SystemExit(128 + signum)


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C: inside a loop, Lightning's SIGTERM handler (the step finishes, last.ckpt is saved);
    outside one, or pressed a second time, a KeyboardInterrupt as usual."""
    lightning = signal.getsignal(signal.SIGTERM)
    if lightning is _exit_now or not callable(lightning) or _requested["signal"] is not None:
        raise KeyboardInterrupt
    _requested["signal"] = signum
    log.warning(
        "Ctrl-C: stopping after the step in flight and saving last.ckpt (Ctrl-C again: "
        "stop at once, keeping the checkpoints saved before)"
    )
    lightning(signal.SIGTERM, frame)  # Lightning's handler: stop after the step


@contextmanager
def exit_on_signals() -> Iterator[None]:
    """Within this block SIGTERM ends the process with status 143 and Ctrl-C with 130, after the
    step in flight (with last.ckpt saved) when training, at once otherwise."""
    if threading.current_thread() is not threading.main_thread():
        yield  # Python delivers signals to the main thread only: leave them to it
        return
    _requested["signal"] = None
    previous_term: Any = signal.signal(signal.SIGTERM, _exit_now)
    previous_int: Any = signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
    except SIGTERMException:
        raise SystemExit(128 + stop_signal()) from None
    except KeyboardInterrupt:  # Ctrl-C before or after training: nothing in flight to save
        log.warning("Ctrl-C: stopped; checkpoints saved before were kept")
        raise SystemExit(EXIT_SIGINT) from None
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous_term is None else previous_term)
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous_int is None else previous_int)
        _requested["signal"] = None
