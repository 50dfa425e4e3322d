"""Several optimizer steps per Lightning batch (``data.steps_per_batch``), as Keras'
``steps_per_execution`` does: Lightning's per-batch work (fetching, hooks, progress tracking,
about 0.1 to 0.2 ms on a CPU) is paid once per group of k mini-batches instead of once per step.

Each mini-batch of a StepGroup gets the mixin's full step (forward, loss, backward, inspect, clip,
update, reset, schedule), so ``global_step``, schedulers, per-step hooks and callbacks, AMP and
DDP see exactly the steps of k = 1, and the parameters are the same. What changes is what counts
Lightning batches: the progress bar, ``limit_train_batches``, an int ``val_check_interval``, and
logging, which writes at most once per batch (the logged step itself, see ``group_step``).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from bp_app.data.tensor_loader import StepGroup


class StepGroupsMixin:
    """Runs a StepGroup through the mixin's step; ManualBackpropMixin inherits it."""

    count_pulled_back = False  # a group set Lightning's batch count back to a logged step

    def group_step(self, group: StepGroup, batch_idx: int) -> Tensor:
        """The mini-batches of one Lightning batch, each its own step (or batch-descent chunk).

        Lightning counts one batch per ``training_step`` and writes logged scalars at that count
        (its loggers' step axis, ``_batches_that_stepped``). The count is set here as k = 1 would
        leave it, or to the logged step's count when a logging step fell inside the group, so
        TensorBoard's steps are the same for every k.
        """
        trainer: Any = self.trainer
        loop = trainer.fit_loop.epoch_loop
        if not self.full_batch:
            loop._batches_that_stepped = self.global_step  # k = 1: one batch per step so far
        start = loop._batches_that_stepped
        last_batch = batch_idx + 1 == trainer.num_training_batches
        logged = None
        # Lightning casts a batch's inputs for 64-true / 16-true precision; a group's are cast here.
        convert = trainer.precision_plugin.convert_input
        for i, mini_batch in enumerate(group):
            mini_batch = convert(mini_batch)
            if self.full_batch:
                loss = self.batch_descent_step(mini_batch, last_batch and i + 1 == len(group))
                continue
            loss = self.gradient_step(mini_batch)
            if self.log_due():
                logged = i
            if trainer.max_steps != -1 and self.global_step >= trainer.max_steps:
                # max_steps counts optimizer steps: stop inside the group, and let a checkpoint
                # count the mini-batches left as not trained on.
                trainer.train_dataloader.rewind(len(group) - i - 1)
                break
        loop._batches_that_stepped = start + (i if logged is None else logged)
        self.count_pulled_back = logged is not None and logged < i
        return loss

    def on_validation_start(self) -> None:
        """Validation logs at Lightning's batch count: if a group set it back to a logged step,
        restore it, so val/* lands at the step it follows, as with k = 1."""
        if self.count_pulled_back:
            self.trainer.fit_loop.epoch_loop._batches_that_stepped = self.global_step - 1
            self.count_pulled_back = False

    def planned_steps(self) -> float:
        """Optimizer steps in the run. Lightning's estimate counts batches; a StepGroup batch
        holds ``steps_per_batch`` mini-batches."""
        trainer: Any = self.trainer
        batches = trainer.estimated_stepping_batches  # also sets up the training loader
        if getattr(trainer.train_dataloader, "steps_per_batch", 1) == 1:
            return batches
        per_epoch = self.mini_batches_per_epoch()
        epochs = trainer.max_epochs if trainer.max_epochs not in (None, -1) else float("inf")
        steps = per_epoch * epochs
        return min(steps, trainer.max_steps) if trainer.max_steps != -1 else steps

    def mini_batches_per_epoch(self) -> int:
        """Mini-batches trained on per epoch: Lightning's batches (after limit_train_batches)
        times ``steps_per_batch``, at most the loader's mini-batches."""
        trainer: Any = self.trainer
        loader = trainer.train_dataloader
        k = getattr(loader, "steps_per_batch", 1)
        if k == 1:
            return trainer.num_training_batches
        return min(trainer.num_training_batches * k, loader.num_mini_batches)
