"""The gradient norm per layer against the optimizer step, drawn straight into pixels with Pillow.

Every bp-train run draws this at the end of training (gradient_flow.py), so it must be cheap:
matplotlib's figure and canvas imports and its first figure cost about a quarter of a second,
more than the other default callbacks of a 3-epoch MNIST run together (docs/bench.md); Pillow
draws the same chart in milliseconds.

    y = log10 ‖g_l‖        a vanishing gradient shows as the early layers' lines lying decades
                           below the output layer's (drawn in red)
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from bp_app.callbacks.figures import BLACK, LINE, WHITE, font

OUTPUT = (207, 34, 46)  # red: the output layer
FIRST, LAST = np.array([10, 48, 105]), np.array([128, 204, 255])  # dark to light blue
GRID = (225, 228, 232)
WIDTH, HEIGHT = 680, 380
LEFT, RIGHT, TOP, BOTTOM = 72, 170, 40, 44  # margins: y labels, legend, title, x labels


def layer_colour(i: int, layers: int) -> tuple[int, int, int]:
    """First layer darkest blue, lighter with depth, the output layer red."""
    if i == layers - 1:
        return OUTPUT
    share = i / max(layers - 2, 1)
    return tuple(int(c) for c in FIRST + (LAST - FIRST) * share)


def step_ticks(low: int, high: int) -> list[int]:
    """About five round steps (1, 2 or 5 times a power of ten apart) from low to high."""
    raw = max((high - low) / 5, 1)  # steps are whole numbers
    power = 10 ** math.floor(math.log10(raw))
    spacing = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / spacing) * spacing
    return list(range(int(first), int(high) + 1, int(spacing)))


def gradient_norms_image(history: dict[str, list[tuple[int, float]]]) -> np.ndarray:
    """‖g_l‖ per layer (``history[layer]`` = [(step, norm), ...]) on a log scale, (H, W, 3) uint8;
    points with a norm of 0 (no gradient) are left out, as a log scale cannot show them."""
    lines = {
        layer: [(s, math.log10(v)) for s, v in points if v > 0 and math.isfinite(v)]
        for layer, points in history.items()
    }
    drawn = [p for points in lines.values() for p in points] or [(0, 0.0)]
    s_low, s_high = min(s for s, _ in drawn), max(s for s, _ in drawn)
    d_low, d_high = math.floor(min(d for _, d in drawn)), math.ceil(max(d for _, d in drawn))
    d_high = max(d_high, d_low + 1)  # at least one decade tall
    s_high = max(s_high, s_low + 1)
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def at(step: float, decade: float) -> tuple[float, float]:
        x = LEFT + (step - s_low) / (s_high - s_low) * inner_w
        y = TOP + (d_high - decade) / (d_high - d_low) * inner_h  # up: larger norms
        return x, y

    canvas = Image.new("RGB", (WIDTH, HEIGHT), WHITE)
    draw = ImageDraw.Draw(canvas)
    title = "gradient norm per layer (output layer in red)"
    draw.text((LEFT + inner_w / 2, 4), title, fill=BLACK, font=font(), anchor="ma")
    for decade in range(d_low, d_high + 1):  # y: one labelled line per power of ten
        _, y = at(s_low, decade)
        draw.line((LEFT, y, LEFT + inner_w, y), fill=GRID)
        draw.text((LEFT - 6, y), f"1e{decade}", fill=BLACK, font=font(), anchor="rm")
    for step in step_ticks(s_low, s_high):
        x, _ = at(step, d_low)
        draw.line((x, TOP, x, TOP + inner_h), fill=GRID)
        draw.text((x, TOP + inner_h + 4), str(step), fill=BLACK, font=font(), anchor="ma")
    draw.rectangle((LEFT, TOP, LEFT + inner_w, TOP + inner_h), outline=BLACK)
    below = (LEFT + inner_w / 2, HEIGHT - LINE - 4)
    draw.text(below, "optimizer step", fill=BLACK, font=font(), anchor="ma")
    draw.text(
        (4, 4 + LINE + 2), "layer gradient norm ||dJ/dW_l|| (log scale)", fill=BLACK, font=font()
    )
    for i, (layer, points) in enumerate(lines.items()):
        colour = layer_colour(i, len(lines))
        xy = [at(s, d) for s, d in points]
        if len(xy) > 1:
            draw.line(xy, fill=colour, width=2)
        for x, y in xy:
            draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=colour)
        key_y = TOP + 4 + i * LINE  # the legend, right of the plot
        key_x = LEFT + inner_w + 10
        draw.line((key_x, key_y + LINE / 2, key_x + 16, key_y + LINE / 2), fill=colour, width=2)
        draw.text((key_x + 20, key_y), layer, fill=BLACK, font=font())
    return np.asarray(canvas).copy()
