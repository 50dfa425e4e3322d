"""NaN guard: a non-finite loss, gradient or weight stops the run (or skips the update), naming
the step, the stage and the first layer, before any checkpoint can save the broken weights.

Each step builds one vector on the device, without reading it back:

    v = [ ‖g_l‖ for each layer l ,  ‖w_l‖ for each layer l ,  L ]

‖x‖ = sqrt(Σ x_i²) is finite exactly when every x_i is (and Σ x_i² fits in float32). The first
step whose v is not all finite is kept on the device; the host reads it every
``check_every_n_steps`` steps and before every checkpoint, and raises NonFiniteError.
``action=skip`` checks each update's gradients before it is applied instead (one host read per
step). How the stages are told apart and why the 2-norm: docs/internals.md.
"""

from __future__ import annotations

import logging
from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor

from bp_app.compat.torch_api import foreach_norm
from bp_app.errors import BPAppError

log = logging.getLogger(__name__)

ACTIONS = ("stop", "skip")
INF = float("inf")


class NonFiniteError(BPAppError):
    """A NaN or inf in the loss, a gradient or a weight."""


@torch.no_grad()
def norms(tensors: list[Tensor]) -> list[Tensor]:
    """‖x‖ of each tensor (0-dim each), in one fused pass; finite iff x is (module doc)."""
    return foreach_norm(tensors)


class NaNGuard(pl.Callback):
    """Stops (or skips) on the first non-finite loss, gradient or weight; see the module doc."""

    def __init__(
        self, action: str = "stop", check_every_n_steps: int = 50, max_skips: int = 10
    ) -> None:
        if action not in ACTIONS:
            raise ValueError(
                f"callbacks.nan_guard.action={action!r} is unknown; choose one of: stop, skip"
            )
        if check_every_n_steps < 1 or max_skips < 1:
            raise ValueError(
                "callbacks.nan_guard.check_every_n_steps and max_skips must be >= 1, got "
                f"{check_every_n_steps} and {max_skips}"
            )
        self.action = action
        self.check_every_n_steps = check_every_n_steps
        self.max_skips = max_skips
        self.params: list[Tensor] = []
        self.names: list[str] = []
        self.no_grads: list[Tensor] = []  # P zeros: a step without an update
        self.grad_norms: list[Tensor] | None = None  # this step's, before the update
        self.previous: Tensor | None = None  # (2P + 1,) the last step's v
        self.first_step: Tensor | None = None  # () the first bad step; -1: none yet
        self.first: Tensor | None = None  # (2P + 1,) its v
        self.first_previous: Tensor | None = None  # (2P + 1,) the v of the step before it
        self.where: dict[int, str] = {}  # step -> "epoch e, batch b", since the last check
        self.steps_since_check = 0
        self.step = 0
        self.skipped = 0
        self.skipped_in_a_row = 0
        self.scaler_skips = False

    # ---------------------------------------------------------------- setup
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        named = [(n, p) for n, p in pl_module.named_parameters() if p.requires_grad]
        self.names = [n for n, _ in named]
        self.params = [p for _, p in named]
        if self.action == "skip":
            pl_module.update_gate = self.gate  # consulted by ManualBackpropMixin.update_stage

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage == "fit" and "update_gate" in pl_module.__dict__:
            del pl_module.update_gate

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        device = pl_module.device
        self.no_grads = [torch.zeros((), device=device)] * len(self.params)
        self.previous = torch.stack([*self.no_grads, *norms(self.params), self.no_grads[0]])
        self.first = self.first_previous = torch.zeros_like(self.previous)
        self.first_step = torch.full((), -1, dtype=torch.long, device=device)
        # A loss scaler (16-mixed) skips updates with inf gradients itself and lowers its scale.
        self.scaler_skips = getattr(trainer.precision_plugin, "scaler", None) is not None

    # ---------------------------------------------------------------- per step, on the device
    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: Any, batch: Any, i: int) -> None:
        self.step = trainer.global_step
        self.where[self.step] = f"epoch {trainer.current_epoch}, batch {i}"

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: Any, optimizer: Any) -> None:
        # Unscaled gradients (also under AMP). Skip mode has checked them already, in gate().
        # The record keeps a Lightning batch's last step: the steps before it in a StepGroup
        # (data.steps_per_batch) would only be overwritten, so they launch nothing here.
        last = getattr(pl_module, "last_in_group", True)
        if self.action == "stop" and not self.scaler_skips and last:
            self.grad_norms = norms(self.gradients())

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: Any, outputs: Any, batch: Any, i: int
    ) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if self.action == "skip" or not isinstance(loss, Tensor):
            loss = self.previous[-1]  # skip mode: a skipped step's loss was dealt with
        grads = self.grad_norms if self.grad_norms is not None else self.no_grads
        v = torch.stack([*grads, *norms(self.params), loss.detach()])  # (2P + 1,)
        found = ~torch.isfinite(v).all() & (self.first_step < 0)  # the first bad step only
        self.first_step = torch.where(found, self.step, self.first_step)
        self.first = torch.where(found, v, self.first)
        self.first_previous = torch.where(found, self.previous, self.first_previous)
        self.previous, self.grad_norms = v, None
        if self.action == "skip" and (self.skipped_in_a_row or self.log_due(trainer)):
            pl_module.log("train/skipped_steps", float(self.skipped), on_step=True)
        self.steps_since_check += 1
        if self.steps_since_check >= self.check_every_n_steps:
            self.check("")

    def gradients(self) -> list[Tensor]:
        return [p.grad if p.grad is not None else p.new_zeros(()) for p in self.params]

    @staticmethod
    def log_due(trainer: pl.Trainer) -> bool:
        every = trainer.log_every_n_steps
        return every > 0 and trainer.global_step % every == 0

    # ---------------------------------------------------------------- skip mode
    def gate(self, optimizer: Any) -> bool:
        """True to apply this update; False (skip) when a gradient is not finite."""
        if self.scaler_skips:
            return True  # scaled gradients: the loss scaler decides
        finite = torch.isfinite(torch.stack(norms(self.gradients()))).tolist()  # one host read
        if all(finite):
            self.skipped_in_a_row = 0
            return True
        self.skipped += 1
        self.skipped_in_a_row += 1
        place = f"step {self.step} ({self.where.get(self.step, '?')})"
        layer = self.names[finite.index(False)]
        log.warning("NaN guard: skipped the update of %s: non-finite gradient in %s", place, layer)
        if self.skipped_in_a_row >= self.max_skips:
            raise NonFiniteError(
                f"{self.skipped_in_a_row} updates in a row had non-finite gradients (NaN or inf), "
                f"the last at {place}, first in layer '{layer}'. {advice()}"
            )
        return False

    # ---------------------------------------------------------------- reading the record
    def check(self, when: str) -> None:
        """Read the record (one host sync); raise NonFiniteError if a step was not finite."""
        self.steps_since_check = 0
        if self.first_step is None:
            return
        step = int(self.first_step)
        if step < 0:
            self.where.clear()
            return
        what = self.describe(self.first.tolist(), self.first_previous.tolist())
        raise NonFiniteError(
            f"NaN guard: non-finite values at training step {step} ({self.where.get(step, '?')})"
            f"{when}; {what}. The run stopped; checkpoints written before it were kept. {advice()}"
        )

    def describe(self, v: list[float], previous: list[float]) -> str:
        """The stage that went wrong first (loss, gradient, parameter) and its layer."""
        count = len(self.names)
        grads, weights, loss = v[:count], v[count : 2 * count], v[-1]
        before = previous[count : 2 * count]  # the weights this step's forward pass used
        if not _finite(loss):
            broken = first_bad(self.names, before)
            if broken:
                return f"stage loss: the loss is {loss}; weights of layer '{broken}' held NaN/inf"
            largest = max(range(count), key=lambda i: before[i])
            return (
                f"stage loss: the loss is {loss} although the weights were finite (the forward "
                f"pass overflowed); the largest weights were in layer '{self.names[largest]}' "
                f"(‖w‖ = {before[largest]:.3g})"
            )
        layer = first_bad(self.names, grads)
        if layer:
            return f"stage gradient: NaN/inf (or overflowing) gradient, first in layer '{layer}'"
        layer = first_bad(self.names, weights)
        return (
            "stage parameter: NaN/inf (or overflowing) weight after the update, "
            f"first in layer '{layer}'"
        )

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: Any, checkpoint: dict) -> None:
        self.check(", found before writing a checkpoint")  # never save broken weights

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.check(", found at the end of training")


def first_bad(names: list[str], values: list[float]) -> str | None:
    """The first name whose value is NaN or inf."""
    return next((n for n, x in zip(names, values, strict=True) if not _finite(x)), None)


def _finite(x: float) -> bool:
    return x == x and abs(x) != INF


def advice() -> str:
    return (
        "Lower optimizer.lr, clip the gradients (model.gradient_clip_val=1.0) or check the data "
        "for NaN / inf, then resume from the last good checkpoint (ckpt_path=last); "
        "callbacks.nan_guard.action=skip drops such updates instead of stopping."
    )
