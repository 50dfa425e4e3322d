"""A crash during training saves last.ckpt on the way out, so ``ckpt_path=last`` continues it.

Unlike Lightning's ``ModelCheckpoint(save_on_exception=True)``, ``CrashCheckpoint`` saves only a
state that resumes exactly (with ExactResume): the state after the last finished step. It saves
nothing when the update of an unfinished step already ran, before training began, under DDP,
or for the NaN guard's stop, SIGTERM and Ctrl-C (GracefulStop saves those) and a full disk.
It advises starting again only when the error can pass (``rerun_advice``). The cases, one by
one: docs/internals.md.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.trainer.states import TrainerFn
from pytorch_lightning.utilities.exceptions import SIGTERMException

from bp_app.callbacks.nan_guard import NonFiniteError
from bp_app.errors import StorageError
from bp_app.runs.layout import last_checkpoint_for

log = logging.getLogger(__name__)


class CrashCheckpoint(pl.Callback):
    """On an exception in ``fit``, write ``last.ckpt`` as of the last finished step."""

    def __init__(self, dirpath: str | Path) -> None:
        self.dirpath = Path(dirpath)
        self.step_at_batch_start = 0
        self.training = False  # set once the weights are restored and training began

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.training = True

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self.training = False

    def on_train_batch_start(self, trainer: pl.Trainer, *args: Any) -> None:
        self.step_at_batch_start = trainer.global_step  # a Python int: costs nothing

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        if trainer.state.fn != TrainerFn.FITTING or not self.training:
            # Before training began (data loading, the checkpoint restore) there is nothing new to
            # keep, and saving would replace a resumed run's last.ckpt with unrestored weights.
            return
        # A second Ctrl-C (the first stops gracefully) lands anywhere, e.g. after the loader
        # advanced: the state may not resume exactly, so the last good checkpoint stays.
        # A full disk (StorageError) cannot take a crash save either.
        if isinstance(
            exception, (SIGTERMException, NonFiniteError, KeyboardInterrupt, StorageError)
        ):
            return
        reason = self.unsaveable(trainer, pl_module)
        if reason:
            log.error(
                "%s during training: %s, so no checkpoint was written; resume from the last one "
                "(ckpt_path=last)",
                type(exception).__name__,
                reason,
            )
            return
        path = last_checkpoint_for(trainer, self.dirpath)
        try:
            trainer.save_checkpoint(path, weights_only=False)
        except Exception as error:  # e.g. a full disk, or the NaN guard refusing broken weights
            log.error(
                "%s during training; last.ckpt was not written: %s", type(exception).__name__, error
            )
            return
        log.error(
            "%s during training: saved %s after global step %d. %s",
            type(exception).__name__,
            path,
            trainer.global_step,
            rerun_advice(exception),
        )

    def unsaveable(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> str | None:
        """Why the state cannot be saved as the last finished step; None when it can."""
        if trainer.world_size > 1:
            return "a save under DDP needs every rank, and the others may have stopped elsewhere"
        progress = trainer.fit_loop.epoch_loop.batch_progress.current
        if progress.started <= progress.processed:
            return None  # between steps
        if trainer.global_step != self.step_at_batch_start:
            return f"the update of step {trainer.global_step} ran but its step did not finish"
        if getattr(pl_module, "full_batch", False) and progress.processed > 0:
            return (
                "batch descent had accumulated part of the epoch's gradient and the failed chunk "
                "may have added to it"
            )
        return None


# Failures a second try may not meet: the machine's, not the program's or the data's.
PASSING = (OSError, MemoryError, torch.cuda.OutOfMemoryError, ConnectionError, TimeoutError)


def rerun_advice(exception: BaseException) -> str:
    """Advise starting again only when a re-run can succeed: an IndexError from a bad label
    would crash again at the same step, in a loop of crash saves."""
    if isinstance(exception, PASSING):
        return (
            "Start the same command again to continue from it (resume=auto), or add ckpt_path=last"
        )
    return (
        f"{type(exception).__name__} is an error of the program or the data: it comes back "
        "if the run is started again as it is, so fix its cause (the error below) first; the fixed "
        "run continues from this checkpoint (resume=auto, or ckpt_path=last)"
    )
