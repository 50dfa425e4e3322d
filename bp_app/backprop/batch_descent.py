"""Batch gradient descent (``model.descent.mode=batch``): one update per epoch, as the lecture's
full-batch GD writes it,

    ∇J(θ) = Σ_b (n_b / N) ∇J_b(θ)        J_b: batch b's mean loss (+ Ω), n_b its size, N the epoch's
    θ ← θ − η · update_rule(∇J)          once, after the epoch's last batch

The gradients of the epoch's batches accumulate in ``.grad``; under DDP only the last backward
all-reduces (``no_sync`` around the others). ManualBackpropMixin inherits this class and supplies
the stages it calls (forward_stage, loss_stage, backward_stage, update_stage, ...).
"""

from __future__ import annotations

from contextlib import ExitStack, nullcontext
from typing import Any

import torch
from torch import Tensor

from bp_app.backprop import step_groups


class BatchDescent:
    """The batch-descent step and its DDP gradient-sync block, mixed into ManualBackpropMixin."""

    sync_block: ExitStack | None
    epoch_samples: int

    @property
    def full_batch(self) -> bool:
        """descent=batch: one update per epoch with the gradient of the mean loss over all data."""
        return self.descent_config.get("mode") == "batch"

    def batch_descent_step(self, batch: Any, last: bool) -> Tensor:
        """Batch GD: ∇J = Σ_b (n_b / N) ∇J_b accumulated over the epoch's batches, one update.

        J_b is batch b's mean loss (+ Ω), so weighting it by its share n_b / N of the epoch's N
        samples makes the sum the mean loss over all N, Ω counted once (the shares sum to 1).
        """
        optimizer = self.step_optimizer()
        loss, outputs, target = self.forward_stage(batch)
        objective, penalty = self.loss_stage(loss)
        # DDP averages the ranks' gradients (÷ world size), so each rank scales its share back up.
        share = len(target) * self.trainer.world_size / self.epoch_samples  # n_b / N (× W)
        # Under DDP only the last batch's backward all-reduces (see on_train_batch_start).
        self.backward_stage(objective, weight=share)  # g += (n_b / N) ∇J_b
        self.epoch_scalars.add(loss, penalty, self.train_correct(outputs, target), len(target))
        if last:
            # Block again so DDP's post-forward hook, which runs after this step, does not arm
            # an all-reduce for the next epoch's first backward.
            self.sync_block_begin()
        # Per-epoch logging: Lightning averages the batches weighted by size, the full-data J.
        self.log_train(loss, penalty, outputs, target, optimizer, per_epoch=True)
        self.epoch_scalars.step_check = None
        if last:
            self.update_stage(optimizer)
            self.reset_stage(optimizer)
            self.schedule_stage(interval="step")
        return loss.detach()

    def count_epoch_samples(self) -> None:
        """N over all ranks, once per epoch: DDP shards may differ in size by one example."""
        local = torch.tensor(step_groups.samples_per_epoch(self.trainer), device=self.device)
        self.epoch_samples = int(self.trainer.strategy.reduce(local, reduce_op="sum"))

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        """Batch descent under DDP: no gradient all-reduce until the epoch's last backward.

        DDP prepares its all-reduce in its forward (which wraps ``training_step``), so the
        block must open before the step starts, not just around ``manual_backward``.
        """
        last = batch_idx + 1 == self.trainer.num_training_batches
        if self.full_batch and not last:
            self.sync_block_begin()

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.sync_block_end()

    def sync_block_begin(self) -> None:
        if self.sync_block is None:
            block = getattr(self.trainer.strategy, "block_backward_sync", nullcontext)
            self.sync_block = ExitStack()
            self.sync_block.enter_context(block())  # DDP's no_sync(); a no-op on one device

    def sync_block_end(self) -> None:
        if self.sync_block is not None:
            self.sync_block.close()
            self.sync_block = None
