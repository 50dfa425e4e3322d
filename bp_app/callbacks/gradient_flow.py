"""Gradient flow in TensorBoard: per-layer gradient norms, update-to-weight ratios, histograms.

On rank zero only:

    grad_norm/<layer>       ‖g_l‖ = sqrt(Σ_{p in layer} Σ g_p²): vanishing, exploding gradients
    update_ratio/<layer>    ‖Δw_l‖ / ‖w_l‖, Δw_l = w_l(after) − w_l(before): about 1e-3 is healthy
        every ``every_n_steps`` optimizer steps (step 0 included);
    weights/<param>, gradients/<param>    histograms (TensorBoard loggers only)
        every ``histogram_every_n_steps`` steps (step 0 included) and at each epoch's last batch:
        a histogram copies the tensor to the host and bins it, the dearest thing logged here.

A layer is a module that owns parameters (``net.layers.0`` for ``net.layers.0.weight``). The
norms are read in ``on_before_optimizer_step``, which Lightning calls after the AMP grad scaler
has unscaled the gradients (in manual optimization too) and before clipping and the update.
The norms stay on the device until the next histogram or the epoch's end, which read them back in
one go: the logging steps do not wait for the device. On the other steps the callback does
nothing but compare integers. With ``dirpath`` set, the norms it logged are drawn per layer
against the step at the end of training: ``<dirpath>/gradient_norms.png``, also in TensorBoard.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from PIL import Image
from pytorch_lightning.loggers import TensorBoardLogger
from torch import Tensor

from bp_app.callbacks.norm_chart import gradient_norms_image


def layer_name(param_name: str) -> str:
    """'net.layers.0.weight' -> 'net.layers.0': the module that owns the parameter."""
    return param_name.rpartition(".")[0] or param_name


def layer_norms(tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    """‖·‖ per layer over all of its parameters' tensors: sqrt(Σ_p ‖t_p‖²)."""
    squares: dict[str, list[Tensor]] = defaultdict(list)
    for name, t in tensors.items():
        squares[layer_name(name)].append(torch.linalg.vector_norm(t.float()).square())
    return {layer: torch.stack(parts).sum().sqrt() for layer, parts in squares.items()}


class GradientFlow(pl.Callback):
    """Logs how the gradient flows through the layers, every ``every_n_steps`` optimizer steps."""

    def __init__(
        self,
        every_n_steps: int = 50,
        histograms: bool = True,
        histogram_every_n_steps: int = 1000,
        dirpath: str | None = None,
    ) -> None:
        for key, value in (
            ("every_n_steps", every_n_steps),
            ("histogram_every_n_steps", histogram_every_n_steps),
        ):
            if value < 1:
                raise ValueError(f"callbacks.gradient_flow.{key} must be >= 1, got {value}")
        self.every_n_steps = every_n_steps
        self.histograms = histograms
        self.histogram_every_n_steps = histogram_every_n_steps
        self.dirpath = Path(dirpath) if dirpath else None
        self.history: dict[str, list[tuple[int, float]]] = defaultdict(list)  # layer -> (step, ‖g‖)
        self._before: dict[str, Tensor] | None = None  # weights before this step's update
        self._step = 0
        self._last_batch = False  # the batch running is the epoch's last
        self._histogram_epoch = -1  # the epoch whose last batch has its histograms
        self._pending: list[tuple[str, list[str], Tensor, int]] = []  # scalars still on device

    def due(self, trainer: pl.Trainer, step: int | None = None) -> bool:
        """Log on rank zero, at steps 0, N, 2N, ..., when there is a logger to write to."""
        step = trainer.global_step if step is None else step
        return step % self.every_n_steps == 0 and writes(trainer)

    def histograms_due(self, trainer: pl.Trainer, step: int) -> bool:
        """Histograms at steps 0, H, 2H, ... and once in each epoch's last batch (rank zero)."""
        if not self.histograms:
            return False
        on_schedule = step % self.histogram_every_n_steps == 0
        # _last_batch first: the epoch's number is read in its last batch only.
        epoch_end = self._last_batch and self._histogram_epoch != trainer.current_epoch
        return (on_schedule or epoch_end) and writes(trainer)

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        self._last_batch = batch_idx + 1 >= trainer.num_training_batches

    def on_before_optimizer_step(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: torch.optim.Optimizer
    ) -> None:
        # With several steps per batch (data.steps_per_batch) the logged step's update is done
        # when the next step begins: compare now, before this step changes the weights again.
        self.log_update_ratio(trainer, pl_module)
        step = trainer.global_step  # a chain of Lightning properties: read once per step
        scalars, histograms = self.due(trainer, step), self.histograms_due(trainer, step)
        if not (scalars or histograms):
            return
        params = {n: p for n, p in pl_module.named_parameters() if p.grad is not None}
        grads = {n: p.grad.detach() for n, p in params.items()}
        if scalars:
            self.keep("grad_norm", layer_norms(grads), step)
            # Δw is known only after the update: keep w now, compare at the end of the batch.
            self._before = {n: p.detach().clone() for n, p in params.items()}
            self._step = step
        if histograms:
            self._histogram_epoch = trainer.current_epoch if self._last_batch else -1
            for name, p in params.items():
                add_histogram(trainer, f"weights/{name}", p.detach(), step)
                add_histogram(trainer, f"gradients/{name}", grads[name], step)
            self.flush(trainer)  # the histograms read the device anyway

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        self.log_update_ratio(trainer, pl_module)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.flush(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.flush(trainer)  # a run stopped by max_steps inside an epoch
        if self.dirpath is None or not self.history or not trainer.is_global_zero:
            return
        # The per-layer picture: ‖g_l‖ against the step, one line per layer, log scale.
        rgb = gradient_norms_image(dict(self.history))
        self.dirpath.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rgb).save(self.dirpath / "gradient_norms.png")
        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                step = trainer.global_step
                logger.experiment.add_image("grad_norm/picture", rgb, step, dataformats="HWC")

    def log_update_ratio(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """‖Δw_l‖ / ‖w_l‖ of the logged step, once its update is done."""
        if self._before is None:
            return
        after = dict(pl_module.named_parameters())
        updates = {n: after[n].detach() - w for n, w in self._before.items()}  # Δw = w' − w
        update_norms = layer_norms(updates)
        weight_norms = layer_norms(self._before)
        ratios = {
            layer: update_norms[layer] / weight_norms[layer].clamp_min(1e-12)  # ‖Δw‖ / ‖w‖
            for layer in update_norms
        }
        self.keep("update_ratio", ratios, self._step)
        self._before = None

    def keep(self, prefix: str, values: dict[str, Tensor], step: int) -> None:
        """Hold ``prefix/<layer>`` values on the device until the next flush."""
        if values:
            self._pending.append((prefix, list(values), torch.stack(list(values.values())), step))

    def flush(self, trainer: pl.Trainer) -> None:
        """Write the held values to every logger, reading them off the device once."""
        if not self._pending:
            return
        numbers = torch.cat([values for _, _, values, _ in self._pending]).tolist()  # one sync
        start = 0
        for prefix, layers, _, step in self._pending:
            row = numbers[start : start + len(layers)]
            start += len(layers)
            metrics = {f"{prefix}/{layer}": v for layer, v in zip(layers, row, strict=True)}
            for logger in trainer.loggers:
                logger.log_metrics(metrics, step=step)
            if prefix == "grad_norm":  # kept for the end-of-training picture
                for layer, value in zip(layers, row, strict=True):
                    self.history[layer].append((step, value))
        self._pending = []


def writes(trainer: pl.Trainer) -> bool:
    """True on rank zero of a run with a logger: read only on the steps that are due."""
    return trainer.is_global_zero and bool(trainer.loggers)


def add_histogram(trainer: pl.Trainer, tag: str, values: Tensor, step: int) -> None:
    """A histogram on each TensorBoard logger (other loggers have no histograms).

    Only the finite values: under 16-mixed an overflowing step (which the grad scaler then
    skips) has inf gradients, and a histogram of nothing but infs cannot be drawn.
    """
    values = values.detach().float().cpu()
    values = values[torch.isfinite(values)]
    if values.numel() == 0:
        return
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.experiment.add_histogram(tag, values, step)
