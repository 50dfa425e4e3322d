"""Pictures of a detector at work: validation images with predicted boxes (class and score) and
the ground-truth boxes in another colour, as a TensorBoard image and PNG files in the run
directory. Drawn with ``torchvision.utils.draw_bounding_boxes``; detectors only."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from PIL import Image
from pytorch_lightning.loggers import TensorBoardLogger
from torch import Tensor
from torchvision.utils import draw_bounding_boxes, make_grid

VAL_TAG = "val/detections"
PREDICTED = "orange"
TRUTH = "lime"


def to_uint8_rgb(image: Tensor, scale: int = 1) -> Tensor:
    """(C, H, W) in [0, 1] -> (3, H·scale, W·scale) uint8, grey repeated to RGB; nearest
    upscaling keeps the pixels visible and leaves room for the labels."""
    if scale > 1:
        image = F.interpolate(image[None], scale_factor=scale, mode="nearest")[0]
    if image.shape[0] == 1:
        image = image.expand(3, -1, -1)
    return (image.clamp(0, 1) * 255).round().to(torch.uint8)


def draw_detections(
    image: Tensor,
    detections: dict[str, Tensor],
    class_names: Sequence[str],
    truth: dict[str, Tensor] | None = None,
    scale: int = 1,
) -> Tensor:
    """(3, H, W) uint8 with ground truth (thin, no label) under the predictions
    ('name score')."""
    canvas = to_uint8_rgb(image.float().cpu(), scale)
    if truth is not None and len(truth["boxes"]):
        canvas = draw_bounding_boxes(canvas, truth["boxes"].cpu() * scale, colors=TRUTH, width=1)
    if len(detections["boxes"]):
        labels = [
            f"{class_names[int(k)]} {float(s):.2f}"
            for k, s in zip(detections["labels"], detections["scores"], strict=False)
        ]
        canvas = draw_bounding_boxes(
            canvas, detections["boxes"].cpu() * scale, labels, colors=PREDICTED, width=2
        )
    return canvas


class BoxPanels(pl.Callback):
    """On rank zero, at validation's end every ``every_n_epochs``: the first ``num_samples``
    validation images with their boxes, one grid."""

    def __init__(
        self,
        dirpath: str,
        num_samples: int = 16,
        every_n_epochs: int = 1,
        scale: int = 4,
        min_score: float = 0.3,
    ) -> None:
        if num_samples < 1 or every_n_epochs < 1 or scale < 1:
            raise ValueError(
                "callbacks.box_panels.num_samples, every_n_epochs and scale must be >= 1, "
                f"got {num_samples}, {every_n_epochs} and {scale}"
            )
        if not 0 <= min_score < 1:
            raise ValueError(f"callbacks.box_panels.min_score must be in [0, 1), got {min_score}")
        self.min_score = min_score
        self.dirpath = Path(dirpath)
        self.num_samples = num_samples
        self.every_n_epochs = every_n_epochs
        self.scale = scale
        self.active = False
        self.grid: Tensor | None = None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self.active = getattr(pl_module, "input_kind", None) == "boxes"

    def _due(self, trainer: pl.Trainer) -> bool:
        epoch = trainer.current_epoch + 1
        return epoch % self.every_n_epochs == 0 or epoch == trainer.max_epochs

    def on_validation_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        # The same first images every time: watch their boxes tighten epoch by epoch.
        if not self.active or batch_idx != 0 or trainer.sanity_checking:
            return
        if not trainer.is_global_zero or not self._due(trainer):
            return
        images, boxes, labels = (t[: self.num_samples] for t in batch)
        detections = pl_module.detect(images, self.min_score)  # the loop runs without grad
        names = pl_module.class_names
        panels = [
            draw_detections(image, found, names, {"boxes": b[k >= 0]}, self.scale)
            for image, found, b, k in zip(images, detections, boxes, labels, strict=False)
        ]
        self.grid = make_grid(torch.stack(panels), nrow=4, padding=4, pad_value=128)

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.grid is None:
            return
        grid, self.grid = self.grid, None  # (3, H, W) uint8
        self.dirpath.mkdir(parents=True, exist_ok=True)
        name = f"val_detections_epoch{trainer.current_epoch:03d}.png"
        Image.fromarray(grid.permute(1, 2, 0).numpy()).save(self.dirpath / name)
        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                logger.experiment.add_image(VAL_TAG, grid, trainer.global_step)
