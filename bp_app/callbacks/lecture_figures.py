"""Matplotlib pictures of the lecture's concepts (a computation graph), drawn with the Agg canvas;
imported only by the runs that draw them (every run's gradient-norm chart is Pillow's:
norm_chart.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

RIGHT, WRONG = "#1a7f37", "#cf222e"


def publish(trainer, figure: Figure, path: Path, tag: str) -> None:
    """The same pixels to a PNG at ``path`` and to every TensorBoard logger, at this step."""
    from PIL import Image
    from pytorch_lightning.loggers import TensorBoardLogger

    rgb = render_rgb(figure)  # (H, W, 3) uint8
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path)
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.experiment.add_image(tag, rgb, trainer.global_step, dataformats="HWC")


def render_rgb(figure: Figure) -> np.ndarray:
    """The figure's pixels, (H, W, 3) uint8."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def computation_graph_figure(graph) -> Figure:
    """A ``bp_app.backprop.graph.Graph`` drawn column by column (inputs, z_1, a_1, ..., L), each
    node with its value and gradient, each weight edge with w and ∂L/∂w; the PNG drawn when
    graphviz's ``dot`` program is not installed."""
    from bp_app.backprop.graph import node_label

    columns = max(n.layer for n in graph.nodes) + 1
    rows = max(sum(n.layer == c for n in graph.nodes) for c in range(columns))
    figure = Figure(figsize=(2.6 * columns, 1.5 * rows + 0.8), dpi=90)
    axis = figure.add_subplot()
    where: dict[str, tuple[float, float]] = {}
    for c in range(columns):
        column = [n for n in graph.nodes if n.layer == c]
        for r, node in enumerate(column):
            where[node.name] = (c, (rows - 1) / 2 - r + (len(column) - 1) / 2)
    lines = [(e.source, e.target, f"w {e.weight:+.2f}\ng {e.grad:+.3f}") for e in graph.edges]
    lines += [(f"z{n.name[1:]}", n.name, "σ") for n in graph.nodes if n.name.startswith("a")]
    lines += [(n.name, graph.nodes[-1].name, "") for n in graph.nodes if n.layer == columns - 2]
    for source, target, text in lines:
        (x0, y0), (x1, y1) = where[source], where[target]
        axis.plot([x0, x1], [y0, y1], color="#8c959f", linewidth=0.8, zorder=1)
        if text:
            axis.text(
                x0 + 0.62 * (x1 - x0),
                y0 + 0.62 * (y1 - y0),
                text,
                fontsize=6,
                ha="center",
                va="center",
                color="#57606a",
                zorder=2,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5},
            )
    for node in graph.nodes:
        x, y = where[node.name]
        colour = RIGHT if node.grad == 0 else ("#0969da" if node.grad > 0 else WRONG)
        axis.text(
            x,
            y,
            node_label(graph, node),
            fontsize=7,
            ha="center",
            va="center",
            zorder=3,
            bbox={"facecolor": "#f6f8fa", "edgecolor": colour, "boxstyle": "round"},
        )
    axis.set_xlim(-0.5, columns - 0.5)
    axis.set_ylim(-0.8, rows - 0.2)
    axis.axis("off")
    axis.set_title(
        "one example through the net: each node's value and ∂L/∂(node) (edges: w and ∂L/∂w)",
        fontsize=9,
    )
    figure.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.93)
    return figure
