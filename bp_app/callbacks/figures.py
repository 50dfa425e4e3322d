"""Pictures of an image classifier, drawn straight into pixels with Pillow.

A training process pays for these at the end of some epochs, so they are cheap: Pillow draws a
grid or a matrix in milliseconds, where matplotlib's import and first figure cost more than all
the other default callbacks together (the profile is in the README's Performance section). Both
return (H, W, 3) uint8 arrays, ready for a PNG and for TensorBoard.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

RIGHT, WRONG = (26, 127, 55), (207, 34, 46)  # green, red
BLACK, WHITE = (0, 0, 0), (255, 255, 255)
LIGHT, DARK = np.array([247, 251, 255]), np.array([8, 48, 107])  # the ends of a blue ramp
CELL = 84  # pixels per sample image (28x28 shown at 3x)
LINE = 12  # pixels per line of text


@cache
def font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=10)


def to_picture(image: np.ndarray) -> Image.Image:
    """(C, H, W) floats as an RGB picture, scaled to the image's own range."""
    picture = image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)  # (H, W) | (H, W, C)
    span = float(np.ptp(picture)) or 1.0
    pixels = ((picture - picture.min()) / span * 255).astype(np.uint8)
    return Image.fromarray(pixels).convert("RGB")


def sample_grid(
    images: np.ndarray,
    true: Sequence[int],
    predicted: Sequence[int],
    confidence: Sequence[float],
    epoch: int,
    class_names: Sequence[str] | None = None,
) -> np.ndarray:
    """A square-ish grid of (n, C, H, W) images, each titled 'pred p (prob) / true t' (class
    names when given), wrong predictions in red."""
    name = (lambda k: class_names[k]) if class_names else str
    n = len(images)
    columns = math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    box_w, box_h = CELL + 16, CELL + 2 * LINE + 8
    canvas = Image.new("RGB", (columns * box_w, rows * box_h + 2 * LINE), WHITE)
    draw = ImageDraw.Draw(canvas)
    draw.text((4, 2), f"validation samples, epoch {epoch}", fill=BLACK, font=font())
    for i in range(n):
        left, top = (i % columns) * box_w + 8, (i // columns) * box_h + 2 * LINE
        colour = RIGHT if predicted[i] == true[i] else WRONG
        draw.text(
            (left, top),
            f"pred {name(predicted[i])} ({confidence[i]:.2f})",
            fill=colour,
            font=font(),
        )
        draw.text((left, top + LINE), f"true {name(true[i])}", fill=colour, font=font())
        picture = to_picture(images[i]).resize((CELL, CELL), Image.Resampling.NEAREST)
        canvas.paste(picture, (left, top + 2 * LINE + 2))
    return np.asarray(canvas).copy()


def confusion_image(matrix: np.ndarray, class_names: Sequence[str] | None = None) -> np.ndarray:
    """The (k, k) counts C[true, predicted] as a heat map with each count written in its cell;
    the rows are labelled 'k name' when class names are given, the columns by k."""
    k = len(matrix)
    total = int(matrix.sum())
    accuracy = np.trace(matrix) / total if total else float("nan")
    rows = [f"{t} {class_names[t]}" if class_names else str(t) for t in range(k)]
    widest = max(font().getlength(label) for label in rows) if rows else 0
    cell, left, top = 40, int(max(6 * LINE, widest + 4 * LINE)), 4 * LINE
    canvas = Image.new("RGB", (max(left + k * cell + 12, 320), top + k * cell + 3 * LINE), WHITE)
    draw = ImageDraw.Draw(canvas)
    draw.text((4, 2), f"test confusion matrix: {total} images", fill=BLACK, font=font())
    draw.text((4, 2 + LINE), f"accuracy {accuracy:.4f}", fill=BLACK, font=font())
    peak = matrix.max() if matrix.size and matrix.max() > 0 else 1
    for t in range(k):
        for p in range(k):
            share = matrix[t, p] / peak  # 0 → light, the largest count → dark blue
            colour = tuple(int(c) for c in LIGHT + (DARK - LIGHT) * share)
            x, y = left + p * cell, top + t * cell
            draw.rectangle((x, y, x + cell - 1, y + cell - 1), fill=colour)
            ink = WHITE if share > 0.5 else BLACK
            draw.text(
                (x + cell / 2, y + cell / 2), str(matrix[t, p]), fill=ink, font=font(), anchor="mm"
            )
        draw.text(
            (left - 8, top + t * cell + cell / 2), rows[t], fill=BLACK, font=font(), anchor="rm"
        )
    for p in range(k):
        draw.text(
            (left + p * cell + cell / 2, top - 2), str(p), fill=BLACK, font=font(), anchor="mb"
        )
    draw.text(
        (left + k * cell / 2, top + k * cell + 4), "predicted", fill=BLACK, font=font(), anchor="ma"
    )
    draw.text((4, top + k * cell / 2), "true", fill=BLACK, font=font(), anchor="lm")
    return np.asarray(canvas).copy()
