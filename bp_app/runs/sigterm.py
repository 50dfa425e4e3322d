"""SIGTERM around a whole command: exit with status 143 = 128 + SIGTERM, after the step in flight.

Kept apart from ``graceful_stop`` (which saves last.ckpt from inside Lightning) so that a command
installs it before torch and Lightning are imported.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

EXIT_SIGTERM = 128 + signal.SIGTERM  # 143: how shells and Docker report "ended by SIGTERM"


def lightning_sigterm(stop: BaseException) -> bool:
    """Whether ``stop`` is Lightning's SIGTERMException (a SystemExit without a code)."""
    exceptions = sys.modules.get("pytorch_lightning.utilities.exceptions")
    return exceptions is not None and isinstance(stop, exceptions.SIGTERMException)


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
    except SystemExit as stop:
        if lightning_sigterm(stop):
            raise SystemExit(EXIT_SIGTERM) from None
        raise
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
