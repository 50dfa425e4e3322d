"""Light augmentation for image batches: random shifts and small rotations, a whole batch at once.

It runs as the training loader's ``collate``, on the device the batch already lives on: one
``affine_grid`` + ``grid_sample`` call for the batch, no per-sample Python.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


class RandomShiftRotate:
    """Moves each image by up to ``max_shift`` whole pixels per axis and turns it by up to
    ``max_degrees``; pixels that come in from outside take the ``background`` value."""

    def __init__(self, max_shift: int = 0, max_degrees: float = 0.0, background: float = 0.0):
        if max_shift < 0 or max_degrees < 0:
            raise ValueError(
                f"augmentation limits must be >= 0, got shift {max_shift}, degrees {max_degrees}"
            )
        self.max_shift = max_shift
        self.max_degrees = max_degrees
        self.background = background

    def __call__(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        x, *rest = batch
        return (self.transform(x), *rest)

    def transform(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H, W), each image moved by its own random shift and angle."""
        b, _, h, w = x.shape
        shift = torch.randint(-self.max_shift, self.max_shift + 1, (b, 2), device=x.device)
        angle = (torch.rand(b, device=x.device) * 2 - 1) * math.radians(self.max_degrees)
        cos, sin = torch.cos(angle), torch.sin(angle)
        # affine_grid maps each output pixel to where it samples the input, in [-1, 1] units
        # (one pixel = 2/W wide): moving content by +d pixels means sampling at -2d/W.
        tx = -2.0 * shift[:, 0].to(x.dtype) / w
        ty = -2.0 * shift[:, 1].to(x.dtype) / h
        theta = torch.stack(
            [torch.stack([cos, -sin, tx], dim=1), torch.stack([sin, cos, ty], dim=1)], dim=1
        )  # (B, 2, 3)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)  # (B, H, W, 2)
        # grid_sample fills the outside with zeros: shift by the background so zero means it.
        moved = F.grid_sample(
            x - self.background, grid, mode="bilinear", padding_mode="zeros", align_corners=False
        )
        return moved + self.background
