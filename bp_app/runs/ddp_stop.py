"""SIGTERM under DDP: every rank stops after the same step, so the save that follows is one
collective that every rank joins.

A scheduler preempting a job (scancel, a Kubernetes pod deletion, torchrun passing on its own
SIGTERM) signals every rank, but not at the same instant: one rank may be a step ahead. Lightning
2.6's handler broadcasts from inside the signal handler, a collective that can pair with another
rank's gradient all-reduce, and then stops each rank after the step in which *its* signal came.
``AgreedStop`` replaces that handler while the loops run: the handler only notes the signal, and
after each batch the ranks agree, with one all-reduce of a flag on the CPU,

    stop = max_r signalled_r

so all stop after the same step (and GracefulStop saves last.ckpt once, from rank 0).
"""

from __future__ import annotations

import logging
import signal
from types import FrameType
from typing import Any

import pytorch_lightning as pl
import torch
import torch.distributed as dist

from bp_app.compat.lightning import request_stop_after_step

log = logging.getLogger(__name__)


class AgreedStop(pl.Callback):
    """Under DDP (more than one rank), stop every rank after the same step on SIGTERM."""

    def __init__(self) -> None:
        self.signalled = False
        self.group: Any = None  # the process group the flag travels on (CPU: gloo)
        self.trainer: pl.Trainer | None = None

    def active(self, trainer: pl.Trainer) -> bool:
        return trainer.world_size > 1 and dist.is_available() and dist.is_initialized()

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.take_over(trainer)

    def on_test_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.take_over(trainer)

    def take_over(self, trainer: pl.Trainer) -> None:
        """Install the note-only handler over Lightning's (Lightning restores the one before
        its own at teardown). Every rank runs this hook: creating a group is a collective."""
        if not self.active(trainer):
            return
        if self.group is None:
            on_cpu = dist.get_backend() == "gloo"
            self.group = dist.group.WORLD if on_cpu else dist.new_group(backend="gloo")
        self.trainer = trainer
        signal.signal(signal.SIGTERM, self.note)

    def note(self, signum: int, frame: FrameType | None) -> None:
        """The signal handler: no collective here, only a flag (and the signal passed on to
        the ranks Lightning started itself, as its own handler does)."""
        if not self.signalled and self.trainer is not None:
            launcher = self.trainer.strategy.launcher
            if launcher is not None:
                launcher.kill(signum)
        self.signalled = True

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        self.agree(trainer)

    def on_test_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        self.agree(trainer)

    def agree(self, trainer: pl.Trainer) -> None:
        if self.group is None or not self.active(trainer):
            return
        flag = torch.tensor([int(self.signalled)])
        dist.all_reduce(flag, op=dist.ReduceOp.MAX, group=self.group)  # stop = max_r signalled_r
        if flag.item():
            if not self.signalled:
                log.warning("Rank %d: another rank got SIGTERM; stopping too", trainer.global_rank)
            request_stop_after_step(trainer)
