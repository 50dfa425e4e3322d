"""ManualBackpropMixin: every gradient step of every bp_app model, stage by stage, in the open.

One step of gradient descent on a mini-batch B, as the lecture writes it:

    forward    ŷ = f(x; θ)
    loss       J(θ) = L(ŷ, y) + Ω(θ)                 Ω: the regularization penalty
    backward   g = ∇θ J                               back propagation (autograd or by hand)
    inspect    ‖g_l‖, ‖Δθ_l‖ / ‖θ_l‖ per layer        callbacks, on unscaled gradients
    clip       g ← g · min(1, c / ‖g‖)               when configured
    update     θ ← θ − η · update_rule(g)            the optimizer (bp_app.optim)
    reset      g ← 0
    schedule   η ← schedule(step)                    at the scheduler's interval

The mixin is the only code that runs these stages; a model supplies ``step(batch) -> (loss,
outputs, target)``. Batch descent accumulates ∇J = Σ_b (n_b / N) ∇J_b over the epoch and updates
once; ``data.steps_per_batch`` hands the step k mini-batches at once (step_groups.py). Why
inspect and clip sit in ``on_before_optimizer_step``, and how batch descent meets DDP:
docs/internals.md.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

import torch
from torch import Tensor

from bp_app.backprop import step_groups
from bp_app.backprop.batch_descent import BatchDescent
from bp_app.backprop.epoch_scalars import EpochScalars, first_step_scalars
from bp_app.compat.lightning import backward_without_hooks
from bp_app.compat.optimizer_step import direct_step, takes_direct_step
from bp_app.compat.result_moves import moves_only_when_needed
from bp_app.compat.step_hooks import listening_step_hooks
from bp_app.data.tensor_loader import StepGroup
from bp_app.errors import ConfigError
from bp_app.optim.factory import build_optimizer
from bp_app.optim.regularization import Regularization
from bp_app.optim.schedulers import build_scheduler, check_horizon


class ManualBackpropMixin(BatchDescent):
    """Owns the training step: mix it in before ``pl.LightningModule``."""

    def __init__(
        self,
        *,
        optimizer: dict[str, Any],
        scheduler: dict[str, Any] | None = None,
        regularization: dict[str, Any] | None = None,
        descent: dict[str, Any] | None = None,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str = "norm",
    ) -> None:
        super().__init__()
        # Lightning hands the step to us: no closure, no hidden backward.
        self.automatic_optimization = False
        self.optimizer_config = dict(optimizer)
        self.scheduler_config = dict(scheduler or {"name": "none"})
        self.regularizer = Regularization(
            # name and strength only label the run: l1 and l2 hold the λ the penalty uses.
            **{k: v for k, v in (regularization or {}).items() if k not in ("name", "strength")}
        )
        self.descent_config = dict(descent or {"mode": "minibatch"})
        self.sync_block: ExitStack | None = None  # DDP's no_sync while batch descent accumulates
        self.epoch_samples = 0  # N, the examples of one epoch over all ranks (batch descent)
        if gradient_clip_algorithm not in ("norm", "value"):
            raise ValueError(
                "model.gradient_clip_algorithm must be 'norm' or 'value', "
                f"got {gradient_clip_algorithm!r}"
            )
        self.gradient_clip_val = gradient_clip_val
        self.gradient_clip_algorithm = gradient_clip_algorithm
        self.count_pulled_back = False  # a StepGroup set Lightning's batch count to a logged step
        self.epoch_scalars = EpochScalars()  # the epoch's training sums, on the device
        self.steps_directly = False  # set per epoch: Lightning's step chain only forwards the call
        self.epoch_objects: tuple[Any, Any] | None = None  # (optimizer, scheduler) of the epoch

    # ------------------------------------------------------------------ the step
    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        """One optimizer step per mini-batch: one, or k when the loader groups them."""
        if isinstance(batch, StepGroup):
            loss, self.count_pulled_back = step_groups.run_group(self, batch, batch_idx)
            return loss
        if self.full_batch:
            last = batch_idx + 1 == self.trainer.num_training_batches
            return self.batch_descent_step(batch, last)
        return self.gradient_step(batch)

    def gradient_step(self, batch: Any) -> Tensor:
        """One optimizer step, top to bottom."""
        optimizer = self.step_optimizer()
        loss, outputs, target = self.forward_stage(batch)
        objective, penalty = self.loss_stage(loss)
        self.backward_stage(objective)
        self.epoch_scalars.add(loss, penalty, self.train_correct(outputs, target), len(target))
        self.update_stage(optimizer)  # inspect and clip run inside, see on_before_optimizer_step
        self.reset_stage(optimizer)
        self.schedule_stage(interval="step")
        if self.log_due():
            self.log_train(loss, penalty, outputs, target, optimizer)
        elif self.global_step == 1:  # the run's first step: its curves start at step 0
            first_step_scalars(self, optimizer)
        self.epoch_scalars.step_check = None  # logged or not, the check belonged to this step
        return loss.detach()

    def on_train_epoch_start(self) -> None:
        listening_step_hooks(self.trainer)  # the inspect hook on its listeners only (compat)
        moves_only_when_needed()  # self.log: no re-move of state already on the device
        self.steps_directly = takes_direct_step(self.trainer)  # see update_stage
        # Resolved once per epoch: each property walks trainer -> strategy -> lists per step.
        self.epoch_objects = (self.optimizers(), self.lr_schedulers())
        if self.full_batch:
            self.count_epoch_samples()

    # ------------------------------------------------------------------ stages
    def forward_stage(self, batch: Any) -> tuple[Tensor, Tensor, Tensor]:
        """Forward: ŷ = f(x; θ) and the data loss L(ŷ, y); the model's only job."""
        return self.step(batch)

    def loss_stage(self, loss: Tensor) -> tuple[Tensor, Tensor | None]:
        """Loss: J(θ) = L(ŷ, y) + Ω(θ), with Ω the L1 / L2 / elastic penalty when configured."""
        penalty = self.regularizer.penalty(self)
        if penalty is None:
            return loss, None
        return loss + penalty, penalty

    def backward_stage(self, objective: Tensor, weight: float = 1.0) -> None:
        """Backward: g += weight · ∇θ J into each ``.grad`` (weight < 1: batch descent's share)."""
        objective = objective * weight if weight != 1.0 else objective
        if backward_without_hooks(self.trainer, self):  # all manual_backward would do here
            return objective.backward()
        self.manual_backward(objective)  # AMP loss scaling, DDP, backward hooks

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Between backward and update, on unscaled gradients, after the callbacks' hook of this
        name (the inspect stage: gradient_flow, nan_guard): clip."""
        self.clip_stage(optimizer)

    def clip_stage(self, optimizer: torch.optim.Optimizer) -> None:
        """Clip: g ← g · min(1, c / ‖g‖) (norm) or g ← clamp(g, −c, c) (value)."""
        if not self.gradient_clip_val:
            return
        groups = optimizer.param_groups
        params = [p for group in groups for p in group["params"] if p.grad is not None]
        if self.gradient_clip_algorithm == "norm":
            # Keep the pre-clip norm as a tensor: reading it would force a host sync every step.
            self.last_grad_norm = torch.nn.utils.clip_grad_norm_(params, self.gradient_clip_val)
        else:
            torch.nn.utils.clip_grad_value_(params, self.gradient_clip_val)

    def update_stage(self, optimizer: Any) -> None:
        """Update: θ ← θ − η · update_rule(g); either path also counts ``global_step``."""
        # NaN guard hook: with callbacks.nan_guard.action=skip, bp_app/callbacks/nan_guard.py sets
        # `update_gate`, which returns False for an update whose gradients are not finite.
        gate = getattr(self, "update_gate", None)
        if gate is not None and not gate(optimizer):
            return
        if self.steps_directly:
            direct_step(optimizer, self.trainer)  # the same calls, minus the wrappers (compat)
        else:
            optimizer.step()

    def reset_stage(self, optimizer: Any) -> None:
        """Reset: g ← 0 (as None, so the next backward writes instead of adds)."""
        # What optimizer.zero_grad(set_to_none=True) does, minus its profiler range and wrappers.
        for group in optimizer.param_groups:
            for w in group["params"]:
                w.grad = None

    def schedule_stage(self, interval: str) -> None:
        """Schedule: η ← schedule(t), for schedulers whose interval is ``interval``."""
        scheduler = self.epoch_objects[1] if self.epoch_objects else self.lr_schedulers()
        if scheduler is None or self.scheduler_interval != interval:
            return
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            # Runs at the epoch's end, after this epoch's validation: η ← factor · η when the
            # monitored metric stopped improving for ``patience`` epochs.
            monitor = self.scheduler_config.get("monitor", "val/loss")
            metrics = self.trainer.callback_metrics
            if monitor in metrics:
                scheduler.step(metrics[monitor])
            elif any(key.startswith("val/") for key in metrics):
                raise ConfigError(
                    f"scheduler.monitor={monitor!r} is not a logged metric; "
                    f"choose one of: {', '.join(sorted(metrics))}"
                )
        else:
            scheduler.step()

    def on_train_epoch_end(self) -> None:
        self.epoch_scalars.log(self)  # train/loss_epoch etc.: one host read per epoch
        self.schedule_stage(interval="epoch")
        self.epoch_objects = None  # no trainer references held between epochs (copies, pickles)

    def on_validation_start(self) -> None:
        if self.count_pulled_back:  # see step_groups.restore_count_for_validation
            step_groups.restore_count_for_validation(self.trainer, self.global_step)
            self.count_pulled_back = False

    # ------------------------------------------------------------------ logging
    def log_due(self) -> bool:
        """True on the steps the logger writes (every ``trainer.log_every_n_steps``)."""
        every = self.trainer.log_every_n_steps
        return every > 0 and self.global_step % every == 0

    def log_train(
        self,
        loss: Tensor,
        penalty: Tensor | None,
        outputs: Tensor,
        target: Tensor,
        optimizer: Any,
        per_epoch: bool = False,
    ) -> None:
        """Training scalars, on logging steps only: no host sync or metric work on the others.

        ``per_epoch``: batch descent logs every batch into an epoch average instead.
        """
        when = {"on_step": not per_epoch, "on_epoch": per_epoch, "batch_size": len(target)}
        self.log("train/loss", loss.detach(), prog_bar=True, **when)
        if penalty is not None:
            self.log("train/penalty", penalty.detach(), **when)
        if self.epoch_scalars.step_check is not None:  # model.backprop=check on this step
            self.log("train/grad_check_rel_err", self.epoch_scalars.step_check, **when)
        if self.regularizer.active:
            # Share of weights with |w| < 1e-3: L1 drives it up. One pass over the weights.
            self.log("train/sparsity", self.regularizer.sparsity(self), **when)
        self.log("lr", float(optimizer.param_groups[0]["lr"]), **when)
        if not per_epoch or step_groups.mini_batches_per_epoch(self.trainer) == 1:
            # Task metrics log per step; for a chunked full batch that would be one chunk's.
            self.log_train_metrics(outputs.detach(), target)

    def log_train_metrics(self, outputs: Tensor, target: Tensor) -> None:
        """Task-specific training metrics (accuracy for classifiers); none by default."""

    def train_correct(self, outputs: Tensor, target: Tensor) -> Tensor | None:
        """How many of the step's examples were right (classifiers), for train/acc_epoch."""

    # ------------------------------------------------------------------ optimizers
    def step_optimizer(self) -> Any:
        """The optimizer of this epoch's steps (Lightning's wrapper, as ``self.optimizers()``)."""
        return self.epoch_objects[0] if self.epoch_objects else self.optimizers()

    @property
    def scheduler_interval(self) -> str:
        return self.scheduler_config.get("interval", "epoch")

    def planned_length(self, interval: str) -> int:
        """The run's length in scheduler intervals: epochs, or updates (one per epoch in batch
        descent); fills in cosine's T_max and one-cycle's total_steps."""
        trainer = self.trainer
        if interval == "epoch" or self.full_batch:
            epochs = trainer.max_epochs if trainer.max_epochs not in (None, -1) else float("inf")
            if interval == "step" and trainer.max_steps > 0:
                epochs = min(epochs, trainer.max_steps)
            return check_horizon(epochs, interval)
        return check_horizon(step_groups.planned_steps(self.trainer), interval)

    def configure_optimizers(self) -> Any:
        """The optimizer and schedule the config's groups name (conf/optimizer/, conf/scheduler/,
        handed to the model by bp_app/config/build.py); their rules are in bp_app/optim/."""
        optimizer = build_optimizer(self.parameters(), self.optimizer_config)
        scheduler = build_scheduler(optimizer, self.scheduler_config, self.planned_length)
        if scheduler is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler}}
