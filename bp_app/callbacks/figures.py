"""Matplotlib figures for image classifiers, drawn with the Agg canvas: no display and no pyplot
state, so they are safe in training processes, in containers and under DDP."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

RIGHT, WRONG = "#1a7f37", "#cf222e"


def render_rgb(figure: Figure) -> np.ndarray:
    """The figure's pixels, (H, W, 3) uint8."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def sample_grid_figure(
    images: np.ndarray,
    true: Sequence[int],
    predicted: Sequence[int],
    confidence: Sequence[float],
    epoch: int,
    class_names: Sequence[str] | None = None,
) -> Figure:
    """A square-ish grid of (n, C, H, W) images, each titled 'pred p (prob) / true t' (class
    names when given), wrong predictions in red."""
    name = (lambda k: class_names[k]) if class_names else str
    n = len(images)
    columns = math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    figure = Figure(figsize=(1.6 * columns, 1.8 * rows), dpi=80)
    for i in range(n):
        axis = figure.add_subplot(rows, columns, i + 1)
        image = images[i]
        # (C, H, W) -> (H, W) for one channel, (H, W, C) for colour; colour scaled to [0, 1].
        if image.shape[0] == 1:
            axis.imshow(image[0], cmap="gray")
        else:
            picture = image.transpose(1, 2, 0)
            span = np.ptp(picture) or 1.0
            axis.imshow((picture - picture.min()) / span)
        ok = predicted[i] == true[i]
        axis.set_title(
            f"pred {name(predicted[i])} ({confidence[i]:.2f})\ntrue {name(true[i])}",
            fontsize=8,
            color=RIGHT if ok else WRONG,
        )
        axis.axis("off")
    figure.suptitle(f"validation samples, epoch {epoch}", fontsize=9)
    # Fixed spacing: tight_layout would measure every title, several times slower.
    figure.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.86, hspace=0.7, wspace=0.1)
    return figure


def confusion_figure(matrix: np.ndarray, class_names: Sequence[str] | None = None) -> Figure:
    """The (k, k) counts C[true, predicted] as a heat map with each count written in its cell,
    the axes labelled with the class names when given."""
    k = len(matrix)
    total = int(matrix.sum())
    accuracy = np.trace(matrix) / total if total else float("nan")
    figure = Figure(figsize=(1.0 + 0.55 * k, 0.8 + 0.5 * k), dpi=80)
    axis = figure.add_subplot()
    axis.imshow(matrix, cmap="Blues")
    half = matrix.max() / 2 if matrix.size else 0
    for t in range(k):
        for p in range(k):
            axis.text(
                p,
                t,
                str(matrix[t, p]),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if matrix[t, p] > half else "black",
            )
    axis.set_xticks(range(k))
    axis.set_yticks(range(k))
    if class_names:
        axis.set_xticklabels(class_names, rotation=45, ha="right", fontsize=7)
        axis.set_yticklabels(class_names, fontsize=7)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(f"test confusion matrix: {total} images, accuracy {accuracy:.4f}", fontsize=9)
    figure.tight_layout()
    return figure
