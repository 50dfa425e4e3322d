"""The lecture's multilayer perceptron: a_l = σ(W_l a_{l-1} + b_l), softmax on top."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from bp_app.backprop.explicit import (
    ForwardCache,
    accumulate_grads,
    cross_entropy,
    cross_entropy_error,
    mlp_forward,
    mlp_gradients,
    relative_error,
)
from bp_app.errors import ConfigError
from bp_app.models.classifier import ClassifierModule
from bp_app.models.init import initialize

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
}

# How the backward stage gets ∇θ J: torch autograd, the hand-derived equations, or both compared.
BACKPROP_MODES = ("autograd", "explicit", "check")


class MLP(nn.Module):
    """Fully connected layers with one activation between them; the last layer gives logits."""

    def __init__(
        self,
        in_features: int,
        hidden_sizes: Sequence[int],
        out_features: int,
        activation: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"model.activation={activation!r} is unknown; "
                f"choose one of: {', '.join(ACTIVATIONS)}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"model.dropout must be in [0, 1), got {dropout}")
        sizes = [in_features, *hidden_sizes, out_features]
        self.layers = nn.ModuleList(
            nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True)
        )
        self.activation = ACTIVATIONS[activation]()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        a = x.flatten(1)  # (B, C*H*W): the image as one input vector a_0
        for layer in self.layers[:-1]:
            a = self.dropout(self.activation(layer(a)))  # a_l = σ(W_l a_{l-1} + b_l)
        return self.layers[-1](a)  # z_L, the logits; softmax lives in the loss


class MLPClassifier(ClassifierModule):
    """``model=mlp``: the MLP trained by the shared manual-backprop step.

    ``backprop=explicit`` fills ``.grad`` from the hand-derived equations of
    ``bp_app.backprop.explicit`` instead of autograd; ``backprop=check`` trains with autograd and,
    on logging steps, logs the largest relative difference of the two as
    ``train/grad_check_rel_err``. The optimizer stage is the same in all three modes.
    """

    input_kind = "images"

    def __init__(
        self,
        input_shape: list[int],
        num_classes: int,
        hidden_sizes: Sequence[int] = (128,),
        activation: str = "relu",
        dropout: float = 0.0,
        backprop: str = "autograd",
        init: str = "torch_default",
        **optimization: Any,
    ) -> None:
        super().__init__(num_classes=num_classes, **optimization)
        if backprop not in BACKPROP_MODES:
            choices = ", ".join(BACKPROP_MODES)
            raise ConfigError(f"model.backprop={backprop!r} is unknown; choose one of: {choices}")
        self.save_hyperparameters()
        self.backprop = backprop
        self.net = MLP(math.prod(input_shape), list(hidden_sizes), num_classes, activation, dropout)
        initialize(self.net, init)  # model.init: torch_default | glorot_uniform | he_normal
        self.forward_cache: tuple[ForwardCache, Tensor, Tensor] | None = None

    def forward_stage(self, batch: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """Forward; in explicit and check modes the hand-written one that caches each a_l."""
        if self.backprop == "autograd":
            return super().forward_stage(batch)
        x, y = batch
        # explicit: no autograd graph at all; check: autograd also needs the graph.
        with torch.set_grad_enabled(self.backprop == "check"):
            logits, cache = mlp_forward(self.net, x)  # (B, num_classes)
            loss, log_p = cross_entropy(logits, y)  # L, and the log p that δ_L reuses
        self.forward_cache = (cache, log_p, y)
        return loss, logits, y

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
        self.forward_cache = None  # free the cached activations before the update

    @torch.no_grad()
    def explicit_gradients(self) -> dict[Tensor, Tensor]:
        """∂J/∂θ from the forward cache: δ_L = (p − y)/N, propagated layer by layer, plus ∂Ω/∂w."""
        cache, log_p, y = self.forward_cache
        delta = cross_entropy_error(log_p.float(), y)  # δ_L = (p − y) / N
        return mlp_gradients(self, self.net, cache, delta, self.regularizer)

    def check_due(self) -> bool:
        """True on the steps whose scalars the mixin logs (it checks after the update), and on
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
        """Under DDP, average the hand-derived gradients over ranks (DDP's hooks sync only
        gradients that autograd produced)."""
        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return
        for p in self.net.parameters():
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
            p.grad.div_(dist.get_world_size())  # g = (1/R) Σ_r g_r, as DDP averages
