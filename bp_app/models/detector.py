"""``model=detector``: a small single-stage, anchor-free detector trained by the shared step.

The backbone is the CNN's block (3x3 convolution → batch norm → ReLU, a 2x2 max pool after the
first ``downsample`` blocks), so the feature map has one location per stride s = 2^downsample
pixels. The head (bp_app/models/detection_head.py, FCOS style) predicts per location a score
per class, the four distances from the location to its object's edges, and a centerness.

    J = FL(class) + λ_box · (1 − GIoU) + BCE(centerness)

Each term is logged as ``train/loss_class``, ``train/loss_box``, ``train/loss_centerness``;
``val/map``, ``val/map_50`` and the test's ``map``, ``map_50``, ``map_75`` come from torchmetrics'
MeanAveragePrecision (the COCO definition) over all DDP ranks' predictions
(bp_app/models/detection_metric.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, ClassVar

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bp_app.backprop.mixin import ManualBackpropMixin
from bp_app.errors import ConfigError
from bp_app.models.detection_head import (
    HeadOutput,
    decode,
    detection_losses,
    encode,
    location_centres,
)
from bp_app.models.detection_metric import GatheredMeanAP

# The backend prints its whole COCO table at INFO on every compute; the logged keys suffice.
logging.getLogger("faster_coco_eval").setLevel(logging.WARNING)


def conv_block(in_channels: int, out_channels: int) -> list[nn.Module]:
    """The CNN's block at constant size: z = W * a + b (3x3, padding 1), batch norm, ReLU."""
    return [
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
    ]


class DetectorNet(nn.Module):
    """Backbone and head; ``forward`` returns the raw per-location outputs."""

    def __init__(
        self, in_channels: int, num_classes: int, channels: Sequence[int], downsample: int
    ) -> None:
        super().__init__()
        if not 0 <= downsample <= len(channels):
            raise ValueError(
                f"model.downsample={downsample} must be between 0 and the {len(channels)} "
                "backbone blocks of model.channels"
            )
        layers: list[nn.Module] = []
        for index, out_channels in enumerate(channels):
            layers += conv_block(in_channels, out_channels)
            if index < downsample:
                layers.append(nn.MaxPool2d(2))  # halves H and W: stride ×2
            in_channels = out_channels
        self.backbone = nn.Sequential(*layers)
        self.stride = 2**downsample
        self.tower = nn.Sequential(*conv_block(in_channels, in_channels))
        self.class_logits = nn.Conv2d(in_channels, num_classes, 3, padding=1)
        self.box = nn.Conv2d(in_channels, 4, 3, padding=1)
        self.centerness = nn.Conv2d(in_channels, 1, 3, padding=1)
        # Focal-loss start (RetinaNet): every location begins as background with p = 0.01, so
        # the first steps are not swamped by the loss of thousands of easy negatives.
        nn.init.constant_(self.class_logits.bias, -torch.log(torch.tensor(99.0)).item())

    def forward(self, x: Tensor) -> HeadOutput:
        h = self.tower(self.backbone(x))  # (B, C_last, H/s, W/s)
        logits = self.class_logits(h).flatten(2).transpose(1, 2)  # (B, L, classes), L = H·W/s²
        # Distances in pixels, positive: softplus(z) · s, about one stride at z = 0.5.
        distances = F.softplus(self.box(h)).flatten(2).transpose(1, 2) * self.stride  # (B, L, 4)
        centerness = self.centerness(h).flatten(1)  # (B, L)
        return HeadOutput(logits, distances, centerness)


class DetectorModule(ManualBackpropMixin, pl.LightningModule):
    """The detector trained by the mixin: ``step(batch)`` returns the summed loss."""

    input_kind: ClassVar[str] = "boxes"
    # What validation logs every epoch: the metrics a search may optimize and prune on.
    val_metrics: ClassVar[tuple[str, ...]] = ("val/loss", "val/map", "val/map_50")

    def __init__(
        self,
        input_shape: list[int],
        class_names: list[str],
        channels: Sequence[int] = (16, 32, 64, 64),
        downsample: int = 2,
        center_radius: float = 1.5,
        focal_alpha: float = 0.25,
        focal_gamma: float = 2.0,
        box_weight: float = 1.0,
        score_threshold: float = 0.05,
        nms_iou: float = 0.5,
        max_detections: int = 50,
        backprop: str = "autograd",
        **step: Any,
    ) -> None:
        if backprop != "autograd":
            raise ConfigError(
                f"model.backprop={backprop!r} is not supported by model=detector: the "
                "hand-derived backward covers model=mlp, cnn, sentiment, bag_of_embeddings and "
                "forecaster. Use model.backprop=autograd (the default)."
            )
        super().__init__(**step)
        self.save_hyperparameters()
        self.class_names = list(class_names)
        self.num_classes = len(class_names)
        self.image_size = (input_shape[1], input_shape[2])
        self.net = DetectorNet(input_shape[0], self.num_classes, list(channels), downsample)
        feature = [-(-side // self.net.stride) for side in self.image_size]  # ceil: pooling floors
        if any(side % self.net.stride for side in self.image_size):
            raise ConfigError(
                f"model.downsample={downsample} needs image sides divisible by "
                f"{self.net.stride}, got {self.image_size}; choose another image size"
            )
        self.register_buffer(
            "centres", location_centres(*feature, self.net.stride, torch.device("cpu")), False
        )
        self.val_map = GatheredMeanAP(max_detections)
        self.test_map = GatheredMeanAP(max_detections)
        self.loss_parts: dict[str, Tensor] = {}

    def forward(self, x: Tensor) -> HeadOutput:
        return self.net(x)

    def step(self, batch: tuple[Tensor, Tensor, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """Forward and data loss J; returns (J, class logits, labels)."""
        images, boxes, labels = batch
        out = self(images)
        hp = self.hparams
        targets = encode(boxes, labels, self.centres, self.net.stride, hp.center_radius)
        parts = detection_losses(out, targets, self.centres, hp.focal_alpha, hp.focal_gamma)
        self.loss_parts = parts  # logged on logging steps only (log_train_metrics)
        loss = parts["loss_class"] + hp.box_weight * parts["loss_box"] + parts["loss_centerness"]
        return loss, out.class_logits, labels

    def log_train_metrics(self, outputs: Tensor, target: Tensor) -> None:
        for name, value in self.loss_parts.items():
            self.log(f"train/{name}", value.detach(), batch_size=len(target))

    def detect(self, images: Tensor, score_threshold: float | None = None) -> list[dict]:
        """Boxes, scores and labels per image, in the images' pixels."""
        hp = self.hparams
        threshold = hp.score_threshold if score_threshold is None else score_threshold
        return decode(
            self(images), self.centres, self.image_size, threshold, hp.nms_iou, hp.max_detections
        )

    def _evaluate(self, batch: Any, stage: str, metric: GatheredMeanAP) -> None:
        images, boxes, labels = batch
        loss, _, _ = self.step(batch)
        metric.update(self.detect(images), boxes, labels)
        self.log(f"{stage}/loss", loss, sync_dist=True, batch_size=len(images))

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._evaluate(batch, "val", self.val_map)

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._evaluate(batch, "test", self.test_map)

    def on_validation_epoch_end(self) -> None:
        self._log_map("val", self.val_map, ("map", "map_50"))

    def on_test_epoch_end(self) -> None:
        self._log_map("test", self.test_map, ("map", "map_50", "map_75"))

    def _log_map(self, stage: str, metric: GatheredMeanAP, keys: Sequence[str]) -> None:
        """compute() gathers every rank's predictions first, so all ranks log the same value."""
        values = metric.compute()
        metric.reset()
        for key in keys:
            self.log(
                f"{stage}/{key}", values[key].float(), prog_bar=key == "map_50", sync_dist=True
            )
