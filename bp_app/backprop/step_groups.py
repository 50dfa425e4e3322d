"""Several optimizer steps per Lightning batch (``data.steps_per_batch`` = k), as Keras'
``steps_per_execution`` does: Lightning's per-batch work is paid once per group of k mini-batches.

Each mini-batch of a StepGroup gets the mixin's full step, so ``global_step``, schedulers,
callbacks, AMP and DDP see exactly the steps of k = 1 and the parameters are the same. What
counts Lightning batches changes: the progress bar, ``limit_train_batches``, an int
``val_check_interval``, checks made between batches, and logging, which writes at most once per
batch. These are helpers the mixin calls; they take the module and its trainer as arguments.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torch import Tensor

from bp_app.compat.lightning import batches_that_stepped, set_batches_that_stepped
from bp_app.data.tensor_loader import StepGroup

if TYPE_CHECKING:
    from bp_app.backprop.mixin import ManualBackpropMixin


def run_group(module: ManualBackpropMixin, group: StepGroup, batch_idx: int) -> tuple[Tensor, bool]:
    """The mini-batches of one Lightning batch, each its own step (or batch-descent chunk).

    Lightning counts one batch per ``training_step`` and writes logged scalars at that count (its
    loggers' step axis). The count is set here as k = 1 would leave it, or to the logged step's
    count when a logging step fell inside the group, so TensorBoard's steps are the same for
    every k. Returns the last loss and whether the count was set back to a logged step.
    """
    trainer: Any = module.trainer
    if not module.full_batch:
        set_batches_that_stepped(trainer, module.global_step)  # k = 1: one batch per step so far
    start = batches_that_stepped(trainer)
    last_batch = batch_idx + 1 == trainer.num_training_batches
    logged = None
    # Lightning casts a batch's inputs for 64-true / 16-true precision; a group's are cast here.
    convert = trainer.precision_plugin.convert_input
    for i, mini_batch in enumerate(group):
        mini_batch = convert(mini_batch)
        if module.full_batch:
            loss = module.batch_descent_step(mini_batch, last_batch and i + 1 == len(group))
            continue
        # Per-step checks that keep only the group's last step (the NaN guard's gradient norms)
        # skip the others. Set twice per group: an nn.Module attribute write is not free.
        if i == 0 and len(group) > 1:
            module.last_in_group = False
        elif i + 1 == len(group):
            module.last_in_group = True
        loss = module.gradient_step(mini_batch)
        if module.log_due():
            logged = i
        if trainer.max_steps != -1 and module.global_step >= trainer.max_steps:
            # max_steps counts optimizer steps: stop inside the group, and let a checkpoint
            # count the mini-batches left as not trained on.
            trainer.train_dataloader.rewind(len(group) - i - 1)
            break
    if not getattr(module, "last_in_group", True):  # max_steps stopped the group early
        module.last_in_group = True
    set_batches_that_stepped(trainer, start + (i if logged is None else logged))
    return loss, logged is not None and logged < i


def restore_count_for_validation(trainer: Any, global_step: int) -> None:
    """Validation logs at Lightning's batch count: after a group set it back to a logged step,
    put it where k = 1 leaves it, so val/* lands at the step it follows."""
    set_batches_that_stepped(trainer, global_step - 1)


def planned_steps(trainer: Any) -> float:
    """Optimizer steps in the run. Lightning's estimate counts batches; a StepGroup batch holds
    ``steps_per_batch`` mini-batches."""
    batches = trainer.estimated_stepping_batches  # also sets up the training loader
    if getattr(trainer.train_dataloader, "steps_per_batch", 1) == 1:
        return batches
    epochs = trainer.max_epochs if trainer.max_epochs not in (None, -1) else float("inf")
    steps = mini_batches_per_epoch(trainer) * epochs
    return min(steps, trainer.max_steps) if trainer.max_steps != -1 else steps


def mini_batches_per_epoch(trainer: Any) -> int:
    """Mini-batches trained on per epoch: Lightning's batches (after limit_train_batches) times
    ``steps_per_batch``, at most the loader's mini-batches."""
    loader = trainer.train_dataloader
    k = getattr(loader, "steps_per_batch", 1)
    if k == 1:
        return trainer.num_training_batches
    return min(trainer.num_training_batches * k, loader.num_mini_batches)


def samples_per_epoch(trainer: Any) -> int:
    """The training examples this process sees in one epoch (after limit_train_batches)."""
    loader = trainer.train_dataloader
    total = getattr(loader, "num_samples", None)  # TensorBatchLoader: this rank's share
    if total is None:
        total = len(loader.sampler)  # a torch DataLoader (DistributedSampler under DDP)
    batches = trainer.num_training_batches
    if batches < len(loader):  # limit_train_batches: batches of steps_per_batch mini-batches
        total = min(total, batches * loader.batch_size * getattr(loader, "steps_per_batch", 1))
    return total
