"""Epoch-level training scalars: every run draws training curves, however few its steps.

Per-step scalars are written every ``trainer.log_every_n_steps`` steps, so a run shorter than
that shows none. Each step therefore also adds its numbers to sums kept on the device (no host
read), and the epoch's end logs their means, read back once:

    train/loss_epoch     (1/N) Σ_b n_b L_b          the mean training loss over the epoch's N
    train/penalty_epoch  (1/N) Σ_b n_b Ω_b          with a penalty; train/sparsity_epoch beside it
    train/acc_epoch      (1/N) Σ_b #correct_b       classifiers
    train/grad_check_rel_err_epoch   max over the epoch's gradient checks (model.backprop=check)

The run's first step is written too (``train/loss`` etc. at step 0), once, straight to the
loggers: a curve starts where training starts.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

LOSS, PENALTY, CORRECT = 0, 1, 2


class EpochScalars:
    """Sums of one epoch's training numbers, on the training device."""

    def __init__(self) -> None:
        self.sums: Tensor | None = None  # (loss·n, penalty·n, correct) summed over the epoch
        self.parts: tuple[Tensor, ...] = ()  # the three views of sums the steps add into
        self.count = 0  # examples this process trained on this epoch (a Python int: no sync)
        self.has_penalty = False
        self.has_correct = False
        self.check: Tensor | None = None  # the largest gradient-check error of the epoch
        self.step_check: Tensor | None = None  # the latest check, for the per-step scalars
        self.last: tuple[Tensor, Tensor | None, Tensor | None, int] | None = None  # the last step

    def add(self, loss: Tensor, penalty: Tensor | None, correct: Tensor | None, n: int) -> None:
        """One step's (or one batch-descent chunk's) numbers: an in-place add each, no host read.

        Every input is detached (``correct`` comes from detached outputs), so the adds record no
        graph without a no_grad block around them."""
        loss = loss.detach()
        penalty = penalty.detach() if penalty is not None else None
        self.last = (loss, penalty, correct, n)
        if self.sums is None:
            self.sums = loss.new_zeros(3, dtype=torch.float32)
            self.parts = self.sums.unbind()  # views: each step adds into them, nothing to stack
        self.parts[0].add_(loss, alpha=n)  # Σ loss·n
        if penalty is not None:
            self.parts[1].add_(penalty, alpha=n)  # Σ penalty·n
            self.has_penalty = True
        if correct is not None:
            self.parts[2].add_(correct)  # Σ correct
            self.has_correct = True
        self.count += n

    @torch.no_grad()
    def add_check(self, error: Tensor) -> None:
        """A gradient check's relative error: kept for the step's scalars and the epoch's max."""
        self.step_check = error.detach()
        self.check = self.step_check if self.check is None else torch.maximum(self.check, error)

    def log(self, module: Any) -> None:
        """Log the epoch's means (summed over DDP ranks first), then start the next epoch."""
        if self.sums is None or self.count == 0:
            return
        strategy = module.trainer.strategy
        count = torch.tensor(float(self.count), device=self.sums.device)
        totals = strategy.reduce(torch.cat([self.sums, count[None]]), reduce_op="sum")
        loss, penalty, correct, n = totals.tolist()  # the epoch's one host read
        epoch = {"on_step": False, "on_epoch": True, "rank_zero_only": True}
        module.log("train/loss_epoch", loss / n, **epoch)
        if self.has_penalty:
            module.log("train/penalty_epoch", penalty / n, **epoch)
            module.log("train/sparsity_epoch", float(module.regularizer.sparsity(module)), **epoch)
        if self.has_correct:
            module.log("train/acc_epoch", correct / n, **epoch)
        if self.check is not None:
            module.log("train/grad_check_rel_err_epoch", float(self.check), **epoch)
        self.__init__()


def first_step_scalars(module: Any, optimizer: Any) -> None:
    """The run's first step, written to every logger at step 0 (one host read, once a run)."""
    trainer = module.trainer
    if not trainer.loggers or not trainer.is_global_zero or module.epoch_scalars.last is None:
        return
    loss, penalty, correct, n = module.epoch_scalars.last
    values = {"train/loss": loss.detach().float()}
    if penalty is not None:
        values["train/penalty"] = penalty.detach().float()
        values["train/sparsity"] = module.regularizer.sparsity(module).float()
    if correct is not None:
        values["train/acc"] = correct.float() / n
    check = module.epoch_scalars.step_check
    if check is not None:
        values["train/grad_check_rel_err"] = check.float()
    numbers = torch.stack([v.to(loss.device) for v in values.values()]).tolist()
    metrics = dict(zip(values, numbers, strict=True)) | {"lr": optimizer.param_groups[0]["lr"]}
    for logger in trainer.loggers:
        logger.log_metrics(metrics, step=0)
