"""The seasonal difference of lag m, and its inverse, for the window networks.

A series with a season of m steps whose seasonal pattern repeats is far more alike from one
season to the next than from one step to the next, so the net reads and predicts the change
over one season (Box and Jenkins' differencing ∇_m, Forecasting: Principles and Practice 9.1):

    d_t = x_t − x_{t−m}                                   (the window's L − m differences)
    x̂_{T+j} = x_{T+j−m} + d̂_{T+j}          for j < m    (the value one season back is known)
    x̂_{T+j} = x̂_{T+j−m} + d̂_{T+j}          for j ≥ m    (one season back is itself forecast)

Both use only the window: the inverse adds the forecast changes to values the window holds (or
to forecasts made from them), never to the targets.
"""

from __future__ import annotations

import torch
from torch import Tensor


def seasonal_difference(window: Tensor, lag: int) -> Tensor:
    """(B, L, ...) -> (B, L − lag, ...): d_t = x_t − x_{t−lag} within each window."""
    return window[:, lag:] - window[:, :-lag]


def undo_seasonal_difference(window: Tensor, changes: Tensor, lag: int) -> Tensor:
    """The values whose seasonal differences after ``window`` (B, L) are ``changes`` (B, s):
    x̂_{T+j} = (x_{T+j−lag} or x̂_{T+j−lag}) + d̂_{T+j}. (B, s)"""
    season = window[:, -lag:]  # (B, lag): x_{T−lag} .. x_{T−1}, the season before T
    parts = []
    for start in range(0, changes.shape[1], lag):  # one season of steps at a time
        chunk = changes[:, start : start + lag]  # (B, ≤ lag)
        season = season[:, : chunk.shape[1]] + chunk  # this season = the last one + d̂
        parts.append(season)
    return torch.cat(parts, dim=1)
