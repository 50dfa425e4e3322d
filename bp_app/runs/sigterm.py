"""SIGTERM and Ctrl-C around a whole command: exit with 143 / 130 = 128 + the signal, after the
step in flight.

Kept apart from ``graceful_stop`` (which saves last.ckpt from inside Lightning) so that a command
installs it before torch and Lightning are imported. Ctrl-C would otherwise be a
KeyboardInterrupt wherever the program is (e.g. after the loader advanced), which no checkpoint
can resume exactly: while a loop runs, ``exit_on_signals`` sends it down the SIGTERM path
(Lightning's handler, or ``ddp_stop.AgreedStop``'s under DDP). What Lightning does on its own:
docs/internals.md.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)

EXIT_SIGTERM = 128 + signal.SIGTERM  # 143: how shells and Docker report "ended by SIGTERM"
EXIT_SIGINT = 128 + signal.SIGINT  # 130: "ended by Ctrl-C"
SIGNAL_NAMES = {signal.SIGTERM: "SIGTERM", signal.SIGINT: "SIGINT (Ctrl-C)"}

# The signal that asked this process to stop (the first one), while ``exit_on_signals`` runs.
_requested: dict[str, int | None] = {"signal": None}


def stop_signal() -> int:
    """The signal that stopped the run (SIGTERM when none was recorded: Lightning's own, or
    another DDP rank's)."""
    return _requested["signal"] or signal.SIGTERM


def lightning_sigterm(stop: BaseException) -> bool:
    """Whether ``stop`` is Lightning's SIGTERMException (a SystemExit without a code)."""
    exceptions = sys.modules.get("pytorch_lightning.utilities.exceptions")
    return exceptions is not None and isinstance(stop, exceptions.SIGTERMException)


def _exit_now(signum: int, frame: FrameType | None) -> None:
    """SIGTERM outside Lightning's loops: nothing is in flight, so end with status 143 now.

    Inside ``fit``/``test`` Lightning's own handler is installed and calls this one after it
    (it chains the handler it found); then the loop stops after the step instead: only record it.
    """
    _requested["signal"] = _requested["signal"] or signum
    if signal.getsignal(signal.SIGTERM) is _exit_now:
        raise SystemExit(128 + signum)


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C: inside a loop, the SIGTERM handler installed there (the step finishes, last.ckpt
    is saved); outside one, or pressed a second time, a KeyboardInterrupt as usual (a SIGTERM
    before it, e.g. passed on by DDP's rank 0, is not a first Ctrl-C).

    The handler is called with SIGTERM, not SIGINT: under DDP rank 0 passes the signal on to the
    ranks Lightning started, which got the terminal's Ctrl-C too; a second SIGINT there would
    read as a second Ctrl-C."""
    in_loop = signal.getsignal(signal.SIGTERM)
    if in_loop is _exit_now or not callable(in_loop) or _requested["signal"] == signal.SIGINT:
        raise KeyboardInterrupt
    _requested["signal"] = _requested["signal"] or signum  # the first signal names the exit status
    log.warning(
        "Ctrl-C: stopping after the step in flight and saving last.ckpt (Ctrl-C again: "
        "stop at once, keeping the checkpoints saved before)"
    )
    in_loop(signal.SIGTERM, frame)  # stop after the step


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
    except SystemExit as stop:
        if lightning_sigterm(stop):
            raise SystemExit(128 + stop_signal()) from None
        raise
    except KeyboardInterrupt:  # Ctrl-C before or after training: nothing in flight to save
        log.warning("Ctrl-C: stopped; checkpoints saved before were kept")
        raise SystemExit(EXIT_SIGINT) from None
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous_term is None else previous_term)
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous_int is None else previous_int)
        _requested["signal"] = None
