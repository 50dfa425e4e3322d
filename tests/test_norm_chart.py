"""The gradient-norm chart every run draws (callbacks/norm_chart.py): lines where the norms are."""

from __future__ import annotations

import numpy as np

from bp_app.callbacks.norm_chart import FIRST, OUTPUT, gradient_norms_image, step_ticks


def rows_of(rgb: np.ndarray, colour) -> np.ndarray:
    """The pixel rows holding ``colour`` exactly (the legend's key excluded: plot area only)."""
    plot = rgb[:, :500]
    return np.nonzero((plot == np.asarray(colour, dtype=np.uint8)).all(axis=2))[0]


def test_a_vanishing_gradient_lies_decades_below_the_output_layer():
    steps = range(0, 300, 10)
    history = {
        "net.layers.0": [(s, 1e-6) for s in steps],  # first layer: vanished
        "net.layers.1": [(s, 1e-3) for s in steps],
        "net.layers.2": [(s, 1e-1) for s in steps],  # the output layer, in red
    }
    rgb = gradient_norms_image(history)
    assert rgb.shape == (380, 680, 3) and rgb.dtype == np.uint8
    first, output = rows_of(rgb, FIRST), rows_of(rgb, OUTPUT)
    assert len(first) and len(output)
    # Five decades apart on a log scale of 1e-6..1e-1: the first layer's line far lower down.
    assert np.median(first) - np.median(output) > 150


def test_zero_norms_are_left_out_and_empty_histories_still_draw():
    only_zeros = gradient_norms_image({"net.layers.0": [(0, 0.0), (5, 0.0)]})
    assert only_zeros.shape == (380, 680, 3)
    assert not len(rows_of(only_zeros, OUTPUT))  # nothing to draw for the one (output) layer
    assert gradient_norms_image({}).std() > 0  # axes and labels


def test_step_ticks_are_round_and_cover_the_run():
    # The smallest spacing of 1, 2 or 5 times a power of ten that gives at most 5 intervals.
    assert step_ticks(0, 290) == [0, 100, 200]
    assert step_ticks(0, 1) == [0, 1]
    assert step_ticks(3, 1290) == [500, 1000]
    assert step_ticks(0, 1000) == [0, 200, 400, 600, 800, 1000]
