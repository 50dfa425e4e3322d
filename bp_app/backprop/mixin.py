"""ManualBackpropMixin: every gradient step of every bp_app model, stage by stage, in the open.

One step of gradient descent on a mini-batch B, as the lecture writes it:

    forward    ŷ = f(x; θ)
    loss       J(θ) = L(ŷ, y) + Ω(θ)                 Ω: the regularization penalty
    backward   g = ∇θ J                               back propagation (autograd or by hand)
    inspect    ‖g_l‖, ‖Δθ_l‖ / ‖θ_l‖ per layer        on unscaled gradients, also under AMP
    clip       g ← g · min(1, c / ‖g‖)               when configured
    update     θ ← θ − η · update_rule(g)            the optimizer (bp_app.optim)
    reset      g ← 0
    schedule   η ← schedule(step)                    at the scheduler's interval

The mixin is the only code that calls ``manual_backward``, clips, steps the optimizer, zeroes
gradients and steps the scheduler. A model supplies ``step(batch) -> (loss, outputs, target)``.

Inspection and clipping run inside ``on_before_optimizer_step``: Lightning calls it after the
AMP grad scaler has unscaled the gradients and before the update, so norms and clipping see the
true gradients in float32, bf16-mixed and 16-mixed alike.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from bp_app.optim.factory import build_optimizer, build_scheduler
from bp_app.optim.regularization import Regularization


class ManualBackpropMixin:
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
            **{k: v for k, v in (regularization or {}).items() if k != "name"}
        )
        self.descent_config = dict(descent or {"mode": "minibatch"})
        if gradient_clip_algorithm not in ("norm", "value"):
            raise ValueError(
                "model.gradient_clip_algorithm must be 'norm' or 'value', "
                f"got {gradient_clip_algorithm!r}"
            )
        self.gradient_clip_val = gradient_clip_val
        self.gradient_clip_algorithm = gradient_clip_algorithm

    # ------------------------------------------------------------------ the step
    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        """One optimizer step, top to bottom."""
        optimizer = self.optimizers()
        loss, outputs, target = self.forward_stage(batch)
        objective, penalty = self.loss_stage(loss)
        self.backward_stage(objective)
        self.update_stage(optimizer)  # inspect and clip run inside, see on_before_optimizer_step
        self.reset_stage(optimizer)
        self.schedule_stage(interval="step")
        if self.log_due():
            self.log_train(loss, penalty, outputs, target, optimizer)
        return loss.detach()

    def forward_stage(self, batch: Any) -> tuple[Tensor, Tensor, Tensor]:
        """Forward: ŷ = f(x; θ) and the data loss L(ŷ, y); the model's only job."""
        return self.step(batch)

    def loss_stage(self, loss: Tensor) -> tuple[Tensor, Tensor | None]:
        """Loss: J(θ) = L(ŷ, y) + Ω(θ), with Ω the L1 / L2 / elastic penalty when configured."""
        penalty = self.regularizer.penalty(self)
        if penalty is None:
            return loss, None
        return loss + penalty, penalty

    def backward_stage(self, objective: Tensor) -> None:
        """Backward: g = ∇θ J by back propagation, accumulated into each parameter's ``.grad``."""
        self.manual_backward(objective)

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Runs between backward and update, on unscaled gradients: inspect, then clip."""
        self.inspect_stage(optimizer)
        self.clip_stage(optimizer)

    def inspect_stage(self, optimizer: torch.optim.Optimizer) -> None:
        """Inspect: a hook for gradient checks; the gradient-flow callback logs norms here too."""

    def clip_stage(self, optimizer: torch.optim.Optimizer) -> None:
        """Clip: g ← g · min(1, c / ‖g‖) (norm) or g ← clamp(g, −c, c) (value)."""
        if not self.gradient_clip_val:
            return
        params = [
            p for group in optimizer.param_groups for p in group["params"] if p.grad is not None
        ]
        if self.gradient_clip_algorithm == "norm":
            # Keep the pre-clip norm as a tensor: reading it would force a host sync every step.
            self.last_grad_norm = torch.nn.utils.clip_grad_norm_(params, self.gradient_clip_val)
        else:
            torch.nn.utils.clip_grad_value_(params, self.gradient_clip_val)

    def update_stage(self, optimizer: Any) -> None:
        """Update: θ ← θ − η · update_rule(g). Lightning's wrapper also counts ``global_step``."""
        optimizer.step()

    def reset_stage(self, optimizer: Any) -> None:
        """Reset: g ← 0 (as None, so the next backward writes instead of adds)."""
        optimizer.zero_grad(set_to_none=True)

    def schedule_stage(self, interval: str) -> None:
        """Schedule: η ← schedule(t), for schedulers whose interval is ``interval``."""
        scheduler = self.lr_schedulers()
        if scheduler is None or self.scheduler_interval != interval:
            return
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            metric = self.trainer.callback_metrics.get(
                self.scheduler_config.get("monitor", "val/loss")
            )
            if metric is not None:
                scheduler.step(metric)
        else:
            scheduler.step()

    def on_train_epoch_end(self) -> None:
        self.schedule_stage(interval="epoch")

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
    ) -> None:
        """Training scalars, on logging steps only: no host sync or metric work on the others."""
        self.log("train/loss", loss.detach(), prog_bar=True, batch_size=len(target))
        if penalty is not None:
            self.log("train/penalty", penalty.detach(), batch_size=len(target))
        self.log("lr", float(optimizer.param_groups[0]["lr"]))
        self.log_train_metrics(outputs.detach(), target)

    def log_train_metrics(self, outputs: Tensor, target: Tensor) -> None:
        """Task-specific training metrics (accuracy for classifiers); none by default."""

    # ------------------------------------------------------------------ optimizers
    @property
    def scheduler_interval(self) -> str:
        return self.scheduler_config.get("interval", "epoch")

    def configure_optimizers(self) -> Any:
        optimizer = build_optimizer(self.parameters(), self.optimizer_config)
        scheduler = build_scheduler(optimizer, self.scheduler_config, self.trainer)
        if scheduler is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler}}
