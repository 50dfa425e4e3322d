"""What every detection data module shares: images with padded box lists, held in memory.

A detection batch is ``(images, boxes, labels)``: images (B, C, H, W) in [0, 1], boxes
(B, M, 4) as x1 y1 x2 y2 in pixels, labels (B, M) with -1 marking the padding after an image's
last box. Padding to the data set's largest box count keeps every split a set of aligned tensors,
so the shared in-memory loader slices, shuffles, shards (DDP) and moves them like any other data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor

from bp_app.data.in_memory import InMemoryDataModule
from bp_app.data.loader_settings import LoaderSettings

PAD_LABEL = -1  # labels (B, M): a row's boxes after its last real one


def pad_boxes(
    boxes: Sequence[Tensor], labels: Sequence[Tensor], max_boxes: int | None = None
) -> tuple[Tensor, Tensor]:
    """Per-image (n_i, 4) boxes and (n_i,) labels -> (N, M, 4) and (N, M), padded with -1."""
    m = max_boxes if max_boxes is not None else max((len(b) for b in boxes), default=0)
    m = max(m, 1)  # one padding column even when no image has a box
    out_boxes = torch.zeros(len(boxes), m, 4)
    out_labels = torch.full((len(boxes), m), PAD_LABEL, dtype=torch.long)
    for i, (b, lab) in enumerate(zip(boxes, labels, strict=True)):
        out_boxes[i, : len(b)] = b
        out_labels[i, : len(lab)] = lab
    return out_boxes, out_labels


def unpad(boxes: Tensor, labels: Tensor) -> list[dict[str, Tensor]]:
    """(B, M, 4), (B, M) -> one {"boxes", "labels"} per image, padding dropped (torchmetrics'
    target format)."""
    keep = labels >= 0  # (B, M)
    return [
        {"boxes": b[k], "labels": lab[k]} for b, lab, k in zip(boxes, labels, keep, strict=False)
    ]


class BoxDataModule(InMemoryDataModule):
    """In-memory detection data: subclasses fill ``class_names`` and ``image_shape`` and return
    ``{"train" | "val" | "test": (images, boxes, labels)}`` from ``load_splits``."""

    kind: ClassVar[str] = "boxes"
    # Canvases are larger than digits' 8x8: smaller batches, and evaluation in a few batches.
    loader_defaults: ClassVar[LoaderSettings] = LoaderSettings(batch_size=32, eval_batch_size=200)

    def __init__(self, **loader: Any) -> None:
        super().__init__(**loader)  # batch_size, eval_batch_size, seed, steps_per_batch
        self.class_names: list[str] = []
        self.image_shape: tuple[int, int, int] = (1, 0, 0)

    def model_inputs(self) -> dict[str, Any]:
        """The detector's size comes from the data; the class names ride in its checkpoint."""
        if self.splits is None:
            self.splits = self.load_splits()
        return {"input_shape": list(self.image_shape), "class_names": list(self.class_names)}

    def prediction_state(self) -> dict[str, Any]:
        return {"class_names": list(self.class_names)}
