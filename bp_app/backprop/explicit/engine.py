"""``model.backprop=autograd|explicit|check``: where the mixin's backward stage gets ∇θ J.

autograd   torch autograd (``manual_backward``), the default
explicit   the network's explicit program (``networks.py``) runs the forward under no_grad and
           records a tape; ``tape.backward(δ_L)`` plus ∂Ω/∂w fills every ``.grad``
check      autograd trains; on logging steps both are computed and the largest
           ‖g_explicit − g_autograd‖ / ‖g_autograd‖ is logged as ``train/grad_check_rel_err``

The model's own ``step(batch)`` runs in every mode: in explicit and check the network's forward
is swapped for its explicit program for that call, so models know nothing of how gradients are
made. Under 16-mixed the hand-derived gradients are multiplied by the loss scale (the precision
plugin unscales before the update, as for autograd's); under DDP they are averaged over ranks.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import torch
import torch.distributed as dist
from torch import Tensor, nn

from bp_app.backprop.explicit.losses import (
    accumulate_grads,
    add_penalty_gradients,
    output_error,
    relative_error,
)
from bp_app.backprop.explicit.networks import RECURRENT, check_supported, program
from bp_app.backprop.explicit.tape import Tape
from bp_app.backprop.mixin import ManualBackpropMixin
from bp_app.errors import ConfigError

BACKPROP_MODES = ("autograd", "explicit", "check")


class Recording:
    """The tape of the last explicit forward."""

    tape: Tape | None = None


@contextmanager
def explicit_forward(net: nn.Module, bptt_steps: int | None) -> Iterator[Recording]:
    """Within the block, ``net(...)`` runs the network's explicit program and keeps its tape."""
    run, record = program(net), Recording()

    def forward(*inputs: Tensor) -> Tensor:
        out, record.tape = run(net, *inputs, bptt_steps=bptt_steps)
        return out

    net.forward = forward  # an instance attribute: nn.Module.__call__ finds it first
    try:
        yield record
    finally:
        del net.forward


class ExplicitBackpropMixin(ManualBackpropMixin):
    """The mixin's step with a choice of backward; models set ``loss_kind`` for δ_L."""

    loss_kind: ClassVar[str] = "cross_entropy"  # cross_entropy | mse: the formula of δ_L

    def __init__(
        self, *, backprop: str = "autograd", bptt_steps: int | None = None, **step: Any
    ) -> None:
        super().__init__(**step)
        if backprop not in BACKPROP_MODES:
            choices = ", ".join(BACKPROP_MODES)
            raise ConfigError(f"model.backprop={backprop!r} is unknown; choose one of: {choices}")
        if bptt_steps is not None and (bptt_steps < 1 or backprop != "explicit"):
            raise ConfigError(
                f"model.bptt_steps={bptt_steps} needs an integer >= 1 and model.backprop=explicit "
                "(autograd and check back-propagate through every step); or model.bptt_steps=null"
            )
        self.backprop = backprop
        self.bptt_steps = bptt_steps
        self.explicit_state: tuple[Tape, Tensor, Tensor] | None = None
        self.watch_time_steps = False  # set by the BPTT figure callback
        self.time_norms: Tensor | None = None  # ‖∂L/∂h_t‖ of the last watched batch (T,)

    def setup(self, stage: str) -> None:
        super().setup(stage)
        if self.backprop != "autograd":
            check_supported(self.net, self.backprop)  # fails at start, naming the layer
            if self.bptt_steps is not None and type(self.net).__name__ not in RECURRENT:
                raise ConfigError("model.bptt_steps applies to recurrent models only; remove it")

    # ------------------------------------------------------------------ stages
    def forward_stage(self, batch: Any) -> tuple[Tensor, Tensor, Tensor]:
        if self.backprop == "autograd":
            return super().forward_stage(batch)
        # explicit: no autograd graph at all; check: autograd also needs the graph.
        grad = torch.set_grad_enabled(self.backprop == "check")
        with grad, explicit_forward(self.net, self.bptt_steps) as record:
            loss, outputs, target = self.step(batch)
        self.explicit_state = (record.tape, outputs, target)
        return loss, outputs, target

    def loss_stage(self, loss: Tensor) -> tuple[Tensor, Tensor | None]:
        if self.backprop != "explicit":
            return super().loss_stage(loss)
        with torch.no_grad():  # the penalty's gradient is derived by hand too
            return super().loss_stage(loss)

    def backward_stage(self, objective: Tensor, weight: float = 1.0) -> None:
        """Backward by autograd, by the hand-derived equations, or by both (compared)."""
        if self.backprop == "autograd":
            return super().backward_stage(objective, weight)
        if self.backprop == "explicit":
            grads = self.explicit_gradients()
            if weight != 1.0:  # batch descent: this batch's share of the epoch's gradient
                grads = {p: weight * g for p, g in grads.items()}
            accumulate_grads(self.scaled_for_amp(grads))
            self.all_reduce_grads()
        elif self.check_due():
            grads = self.explicit_gradients()
            params = list(grads)
            autograd = torch.autograd.grad(objective, params, retain_graph=True)
            error = relative_error(grads, dict(zip(params, autograd, strict=True)))
            self.epoch_scalars.add_check(error)  # the mixin logs it: per step and per epoch
        if self.backprop == "check":
            super().backward_stage(objective, weight)
        self.explicit_state = None  # free the tape before the update

    @torch.no_grad()
    def explicit_gradients(self) -> dict[Tensor, Tensor]:
        """∂J/∂θ from the tape: δ_L from the loss, propagated op by op, plus ∂Ω/∂w."""
        tape, outputs, target = self.explicit_state
        tape.watch_time = self.watch_time_steps and self.check_due()
        delta = output_error(self.loss_kind, outputs.detach().float(), target)  # δ_L
        grads = tape.backward(delta)
        if "grad_norm_t" in tape.records:
            self.time_norms = tape.records["grad_norm_t"].detach()
        return add_penalty_gradients(grads, self.regularizer, self)

    def check_due(self) -> bool:
        """True on the steps whose scalars the mixin logs (it checks before the update), and on
        each epoch's first step (for train/grad_check_rel_err_epoch), the run's first included."""
        every = self.trainer.log_every_n_steps
        logged = every > 0 and (self.global_step + 1) % every == 0
        return logged or self.epoch_scalars.count == 0

    def scaled_for_amp(self, grads: dict[Tensor, Tensor]) -> dict[Tensor, Tensor]:
        """Under 16-mixed precision, multiply by the loss scale, as autograd's backward of the
        scaled loss would: the precision plugin unscales before the update."""
        scaler = getattr(self.trainer.precision_plugin, "scaler", None)
        if scaler is None:
            return grads
        return {p: scaler.scale(g) for p, g in grads.items()}

    def all_reduce_grads(self) -> None:
        """Under DDP, g = (1/R) Σ_r g_r over ranks, as DDP's all-reduce averages (its hooks sync
        only gradients that autograd produced)."""
        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return
        if self.sync_block is not None:
            return  # batch descent: DDP syncs on the epoch's last backward only
        for p in self.parameters():
            if p.grad is not None:
                dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
                p.grad.div_(dist.get_world_size())
