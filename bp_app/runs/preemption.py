"""A preempted submitit job (the Hydra submitit launcher: SLURM, or its local executor) resumes
its run instead of starting over.

Before a job runs, submitit installs a handler for its preemption signal (USR2, or the one
SUBMITIT_PREEMPT_SIGNAL names; SLURM sends it ``signal_delay_s`` before the time limit). That
handler pickles the job again and requeues it (``scontrol requeue`` on SLURM, exit 144 under
the local executor) from wherever the signal lands, mid-step included, so nothing is saved.
``requeue_on_preemption`` puts a handler in front of it that takes the signal as SIGTERM: the
step in flight finishes, last.ckpt is saved (GracefulStop; under DDP every rank after the same
step, AgreedStop), and only then is submitit's handler called. The requeued job is the same sweep
job in the same run directory, where resume=auto continues from that last.ckpt.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from bp_app.runs.sigterm import EXIT_SIGTERM

log = logging.getLogger(__name__)


def submitit_signal() -> signal.Signals | None:
    """The signal submitit's jobs take as "preempted or out of time" (as submitit reads it)."""
    return getattr(signal, "SIG" + os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2"), None)


def is_submitit_handler(handler: Any) -> bool:
    """True for the bound method submitit's ``SignalHandler`` installs (no submitit import)."""
    owner = getattr(handler, "__self__", None)
    return owner is not None and type(owner).__module__.startswith("submitit.")


@contextmanager
def requeue_on_preemption() -> Iterator[None]:
    """Inside a submitit job: the preemption signal stops as SIGTERM does (the step finishes,
    last.ckpt is saved), then submitit requeues the job. Elsewhere: nothing changes."""
    signum = submitit_signal()
    requeue = signal.getsignal(signum) if signum is not None else None
    if not is_submitit_handler(requeue):
        yield
        return
    noted: list[int] = []

    def stop_as_on_sigterm(received: int, frame: FrameType | None) -> None:
        noted.append(received)
        on_sigterm = signal.getsignal(signal.SIGTERM)  # Lightning's, AgreedStop's, or _exit_now
        if not callable(on_sigterm):
            raise SystemExit(EXIT_SIGTERM)
        on_sigterm(signal.SIGTERM, frame)

    signal.signal(signum, stop_as_on_sigterm)
    try:
        yield
    except SystemExit as stop:
        if noted and stop.code == EXIT_SIGTERM:
            log.warning(
                "Preempted (%s): the job is requeued and resumes", signal.Signals(signum).name
            )
            requeue(noted[0], None)  # submitit: pickle the job again, requeue it, exit
        raise
    finally:
        signal.signal(signum, requeue)
