"""The computation graph of a tiny MLP after its first backward: a picture of back propagation.

At optimizer step ``step`` (0: the first), between the backward and the update, the callback
takes the step's first example and writes, in ``dirpath``:

    computation_graph.gv     graphviz source: nodes x, z_l, a_l, L with value and ∂L/∂(node)
    computation_graph.png    rendered by graphviz's ``dot`` where installed, else by matplotlib
    computation_graph.txt    the same numbers as plain text

and shows the PNG and the text in TensorBoard (images and text tabs). With batch size 1
(descent=stochastic) the weights' gradients drawn are exactly the ``.grad`` of that step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import TensorBoardLogger

from bp_app.backprop.graph import can_render_dot, mlp_graph, to_graphviz, to_text
from bp_app.callbacks.lecture_figures import computation_graph_figure, publish
from bp_app.data.tensor_loader import StepGroup
from bp_app.errors import ConfigError

TAG = "backprop/computation_graph"


class ComputationGraph(pl.Callback):
    """Draws the per-unit computation graph of an MLP's step ``step`` (rank zero only)."""

    def __init__(self, dirpath: str, step: int = 0) -> None:
        if step < 0:
            raise ValueError(f"callbacks.computation_graph.step must be >= 0, got {step}")
        self.dirpath = Path(dirpath)
        self.step = step
        self.example: tuple[torch.Tensor, int] | None = None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        net = getattr(pl_module, "net", None)
        if not hasattr(net, "layers") or not hasattr(net, "activation"):
            raise ConfigError(
                "callbacks.computation_graph draws MLPs only (model=mlp), e.g. "
                "bp-train experiment=backprop_graph; remove it for this model"
            )

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if trainer.global_step <= self.step and trainer.is_global_zero:
            x, y = next(iter(batch)) if isinstance(batch, StepGroup) else batch
            self.example = (x[0].detach(), int(y[0]))

    def on_before_optimizer_step(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Any
    ) -> None:
        if trainer.global_step != self.step or self.example is None:
            return
        net = pl_module.net
        graph = mlp_graph(list(net.layers), net.activation, *self.example)
        self.example = None
        self.dirpath.mkdir(parents=True, exist_ok=True)
        text = to_text(graph)
        (self.dirpath / "computation_graph.txt").write_text(text)
        dot = to_graphviz(graph)
        (self.dirpath / "computation_graph.gv").write_text(dot.source)
        png = self.dirpath / "computation_graph.png"
        if can_render_dot():
            dot.render(outfile=png, format="png", cleanup=True)
        figure = computation_graph_figure(graph)
        if can_render_dot():
            # TensorBoard gets the matplotlib drawing of the same numbers; the file is dot's.
            publish(trainer, figure, self.dirpath / "computation_graph_matplotlib.png", TAG)
        else:
            publish(trainer, figure, png, TAG)
        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                # Markdown shows indented lines as code: the table keeps its columns.
                block = "\n".join("    " + line for line in text.splitlines())
                logger.experiment.add_text(TAG, block, trainer.global_step)
