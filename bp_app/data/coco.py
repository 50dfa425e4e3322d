"""``data=coco``: a user's own detection data in COCO format, held in memory.

A folder (``root``) with an annotations file per split and an image folder. Every image is
resized to ``image_size`` x ``image_size`` and its boxes scaled with it; the categories are
mapped to contiguous labels 0..K-1 in the order of their ids, and their names ride in the
checkpoint, so bp-predict reports names. Without a test file the test stage uses val.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from bp_app.data.box_sets import BoxDataModule, pad_boxes
from bp_app.data.coco_reader import CocoImage, read_coco
from bp_app.errors import DataError

log = logging.getLogger(__name__)


def load_pixels(image: CocoImage, size: int, channels: int) -> Tensor:
    """(C, size, size) in [0, 1]."""
    with Image.open(image.path) as file:
        file = file.convert("L" if channels == 1 else "RGB")
        pixels = np.asarray(file.resize((size, size), Image.Resampling.BILINEAR), np.float32)
    x = torch.from_numpy(pixels / 255.0)
    return x[None] if channels == 1 else x.permute(2, 0, 1)  # (H, W) | (H, W, C) -> (C, H, W)


class CocoDataModule(BoxDataModule):
    """Train, val and (optionally) test splits from COCO annotation files under ``root``."""

    def __init__(
        self,
        root: str = "data/coco",
        train_annotations: str = "annotations/train.json",
        val_annotations: str = "annotations/val.json",
        test_annotations: str | None = None,
        image_dir: str = "images",
        image_size: int = 128,
        channels: int = 3,
        **loader: Any,
    ) -> None:
        super().__init__(**loader)  # batch_size, eval_batch_size, seed, steps_per_batch
        if image_size < 8:
            raise ValueError(f"data.image_size must be >= 8 pixels, got {image_size}")
        if channels not in (1, 3):
            raise ValueError(f"data.channels must be 1 (grey) or 3 (RGB), got {channels}")
        self.root = Path(root)
        self.files = {"train": train_annotations, "val": val_annotations}
        if test_annotations:
            self.files["test"] = test_annotations
        self.image_dir = self.root / image_dir
        self.image_size = image_size
        self.channels = channels
        self.image_shape = (channels, image_size, image_size)

    def load_splits(self) -> dict[str, tuple[Tensor, ...]]:
        read = {
            name: read_coco(self.root / file, self.image_dir) for name, file in self.files.items()
        }
        categories = read["train"][0]
        for name, (other, _) in read.items():
            if other != categories:
                raise DataError(
                    f"{self.root / self.files[name]}: its categories {other} differ from the "
                    f"training file's {categories}; every split must list the same categories"
                )
        ids = sorted(categories)
        label_of = {category_id: label for label, category_id in enumerate(ids)}
        self.class_names = [categories[i] for i in ids]
        splits = {name: self._tensors(name, images, label_of) for name, (_, images) in read.items()}
        splits.setdefault("test", splits["val"])
        return splits

    def _tensors(
        self, name: str, images: list[CocoImage], label_of: dict[int, int]
    ) -> tuple[Tensor, Tensor, Tensor]:
        if not images:
            raise DataError(f"{self.root / self.files[name]}: 'images' is empty")
        background = sum(1 for image in images if not image.boxes)
        log.info(
            "data=coco %s: %d images, %d boxes, %d background images (no annotations)",
            name,
            len(images),
            sum(len(image.boxes) for image in images),
            background,
        )
        pixels, boxes, labels = [], [], []
        for image in images:
            pixels.append(load_pixels(image, self.image_size, self.channels))
            scale = torch.tensor([image.width, image.height] * 2, dtype=torch.float32)
            scaled = torch.tensor(image.boxes, dtype=torch.float32).reshape(-1, 4)
            boxes.append(scaled / scale * self.image_size)  # pixels of the resized image
            labels.append(torch.tensor([label_of[c] for c in image.category_ids], dtype=torch.long))
        padded_boxes, padded_labels = pad_boxes(boxes, labels)
        return torch.stack(pixels), padded_boxes, padded_labels
