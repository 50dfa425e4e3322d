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


def sample_titles(
    true: Sequence[int],
    predicted: Sequence[int],
    confidence: Sequence[float],
    class_names: Sequence[str] | None = None,
) -> list[tuple[str, str]]:
    """Each sample's two title lines, 'pred p (prob)' and 'true t', with class names if given."""
    name = (lambda k: class_names[k]) if class_names else str
    return [
        (f"pred {name(p)} ({c:.2f})", f"true {name(t)}")
        for t, p, c in zip(true, predicted, confidence, strict=True)
    ]


def confusion_labels(k: int, class_names: Sequence[str] | None = None) -> list[str]:
    """The labels of the confusion matrix's rows and columns: the class names, else 0..k-1."""
    return list(class_names) if class_names else [str(i) for i in range(k)]


def sample_grid(
    images: np.ndarray,
    true: Sequence[int],
    predicted: Sequence[int],
    confidence: Sequence[float],
    epoch: int,
    class_names: Sequence[str] | None = None,
) -> np.ndarray:
    """A square-ish grid of (n, C, H, W) images under their titles (``sample_titles``), wrong
    predictions in red."""
    n = len(images)
    columns = math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    titles = sample_titles(true, predicted, confidence, class_names)
    widest = max((font().getlength(line) for pair in titles for line in pair), default=0)
    box_w, box_h = int(max(CELL, widest)) + 16, CELL + 2 * LINE + 8
    canvas = Image.new("RGB", (columns * box_w, rows * box_h + 2 * LINE), WHITE)
    draw = ImageDraw.Draw(canvas)
    draw.text((4, 2), f"validation samples, epoch {epoch}", fill=BLACK, font=font())
    for i, (first, second) in enumerate(titles):
        left, top = (i % columns) * box_w + 8, (i // columns) * box_h + 2 * LINE
        colour = RIGHT if predicted[i] == true[i] else WRONG
        draw.text((left, top), first, fill=colour, font=font())
        draw.text((left, top + LINE), second, fill=colour, font=font())
        picture = to_picture(images[i]).resize((CELL, CELL), Image.Resampling.NEAREST)
        canvas.paste(picture, (left, top + 2 * LINE + 2))
    return np.asarray(canvas).copy()


def vertical_text(canvas: Image.Image, bottom_centre: tuple[float, float], text: str) -> None:
    """``text`` written bottom to top, its end at ``bottom_centre``: column labels of any length."""
    width, height = int(font().getlength(text)) + 2, LINE
    strip = Image.new("L", (width, height), 0)
    ImageDraw.Draw(strip).text((1, 0), text, fill=255, font=font())
    strip = strip.rotate(90, expand=True)  # (height, width): reads upwards
    x, y = bottom_centre
    canvas.paste(BLACK, (int(x - height / 2), int(y - width)), strip)


def confusion_image(matrix: np.ndarray, class_names: Sequence[str] | None = None) -> np.ndarray:
    """The (k, k) counts C[true, predicted] as a heat map with each count written in its cell,
    rows and columns labelled by ``confusion_labels`` (columns written upwards)."""
    k = len(matrix)
    total = int(matrix.sum())
    accuracy = np.trace(matrix) / total if total else float("nan")
    labels = confusion_labels(k, class_names)
    widest = int(max((font().getlength(label) for label in labels), default=0))
    cell, left, top = 40, max(6 * LINE, widest + 4 * LINE), 3 * LINE + widest + 8
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
            count = str(matrix[t, p])
            draw.text((x + cell / 2, y + cell / 2), count, fill=ink, font=font(), anchor="mm")
        row = (left - 8, top + t * cell + cell / 2)
        draw.text(row, labels[t], fill=BLACK, font=font(), anchor="rm")
    for p in range(k):
        vertical_text(canvas, (left + p * cell + cell / 2, top - 4), labels[p])
    below = (left + k * cell / 2, top + k * cell + 4)
    draw.text(below, "predicted", fill=BLACK, font=font(), anchor="ma")
    draw.text((4, top + k * cell / 2), "true", fill=BLACK, font=font(), anchor="lm")
    return np.asarray(canvas).copy()
