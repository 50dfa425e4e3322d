"""Pictures of the hand-derived backward at work, in TensorBoard and as PNGs in the run dir.

``bptt/grad_norm_t`` (every ``every_n_epochs`` epochs and the last): ‖∂L/∂h_t‖ for each step t
of a logged batch (sequences aligned at their last step, where the loss reads the state), drawn
on a log scale: a plain RNN's gradient dies with distance from the loss, an LSTM's much less.
Recurrent models in backprop=explicit or check.

``conv/filters`` and ``conv/filter_grads``: the first conv layer's filters and their gradients
as image grids, every ``every_n_steps`` optimizer steps. Models with a Conv2d, in any mode.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
from pytorch_lightning.loggers import TensorBoardLogger
from torch import Tensor, nn

BPTT_TAG, BPTT_PNG = "bptt/grad_norm_t", "bptt_grad_norm_t.png"


def render_rgb(figure: Any) -> np.ndarray:
    """The figure's pixels, (H, W, 3) uint8, drawn with the Agg canvas (no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # only when a figure is drawn

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def grad_norm_figure(norms: np.ndarray, title: str) -> Any:
    """‖∂L/∂h_t‖ against t, log scale; t = T is the step the loss reads."""
    from matplotlib.figure import Figure  # imported on first use: it costs startup time

    figure = Figure(figsize=(6, 3.2), dpi=80)
    axis = figure.add_subplot()
    steps = np.arange(1, len(norms) + 1)
    axis.semilogy(steps, np.maximum(norms, 1e-300), marker=".")
    axis.set_xlabel("time step t (the loss reads h_T at the right)")
    axis.set_ylabel("‖∂L/∂h_t‖")
    axis.set_title(title, fontsize=9)
    axis.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    return figure


def tensorboard(trainer: pl.Trainer) -> list[Any]:
    return [lg.experiment for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)]


class BackpropPictures(pl.Callback):
    """Draws ``bptt/grad_norm_t`` at each epoch's end and the first conv layer's filter grids."""

    def __init__(self, dirpath: str, every_n_steps: int = 100, every_n_epochs: int = 10) -> None:
        if every_n_steps < 1 or every_n_epochs < 1:
            raise ValueError("callbacks.backprop_pictures.every_n_steps and every_n_epochs must "
                             f"be >= 1, got {every_n_steps} and {every_n_epochs}")  # fmt: skip
        self.dirpath = Path(dirpath)
        self.every_n_steps = every_n_steps
        self.every_n_epochs = every_n_epochs
        self.conv: nn.Conv2d | None = None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        recurrent = any(isinstance(m, nn.RNNBase) for m in pl_module.modules())
        if recurrent and getattr(pl_module, "backprop", "autograd") != "autograd":
            pl_module.watch_time_steps = True  # the engine keeps ‖∂L/∂h_t‖ on logging steps
        self.conv = next((m for m in pl_module.modules() if isinstance(m, nn.Conv2d)), None)

    # ------------------------------------------------------------------ BPTT
    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        norms: Tensor | None = getattr(pl_module, "time_norms", None)
        if norms is None or not trainer.is_global_zero:
            return
        epoch = trainer.current_epoch + 1
        if epoch % self.every_n_epochs and epoch != trainer.max_epochs:
            return  # a figure costs a tenth of a second: not every epoch of a 200-epoch run
        values = norms.double().cpu().numpy()
        cell = pl_module.hparams.get("cell", "")
        # log10 of ‖∂L/∂h_T‖ / ‖∂L/∂h_1‖; a float32 norm can underflow to 0: floor it at 1e-45.
        log_ratio = np.log10(max(values[-1], 1e-45)) - np.log10(max(values[0], 1e-45))
        title = (f"{cell} {BPTT_TAG}, epoch {trainer.current_epoch}: "
                 f"‖∂L/∂h_T‖ / ‖∂L/∂h_1‖ = 10^{log_ratio:.1f}")  # fmt: skip
        rgb = render_rgb(grad_norm_figure(values, title))
        self.dirpath.mkdir(parents=True, exist_ok=True)
        from PIL import Image

        Image.fromarray(rgb).save(self.dirpath / BPTT_PNG)
        for writer in tensorboard(trainer):
            writer.add_image(BPTT_TAG, np.ascontiguousarray(rgb), trainer.global_step,
                             dataformats="HWC")  # fmt: skip
        pl_module.log("bptt/log10_last_to_first", float(log_ratio), rank_zero_only=True)

    # ------------------------------------------------------------------ conv filters
    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        conv = self.conv
        if conv is None or conv.weight.grad is None or not trainer.is_global_zero:
            return
        if trainer.global_step % self.every_n_steps != 0:
            return
        for writer in tensorboard(trainer):
            writer.add_image("conv/filters", filter_grid(conv.weight), trainer.global_step)
            writer.add_image(
                "conv/filter_grads", filter_grid(conv.weight.grad), trainer.global_step
            )


def filter_grid(weights: Tensor) -> Tensor:
    """(C_out, C_in, k, k) -> one (1, H, W) grid, each filter scaled to [0, 1] on its own and
    magnified 8x (3x3 pixels are too small to see); the first input channel of each filter."""
    from torchvision.utils import make_grid

    w = weights.detach().float().cpu()[:, :1]  # (C_out, 1, k, k)
    low = w.amin((1, 2, 3), keepdim=True)
    span = (w.amax((1, 2, 3), keepdim=True) - low).clamp_min(1e-12)
    w = ((w - low) / span).repeat_interleave(8, 2).repeat_interleave(8, 3)
    return make_grid(w, nrow=8, padding=2, pad_value=1.0)[:1]  # (1, H, W)
