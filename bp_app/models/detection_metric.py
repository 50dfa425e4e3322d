"""Mean average precision over every DDP rank's predictions, with uneven shards.

torchmetrics' MeanAveragePrecision keeps one tensor per image and gathers them one by one, so
ranks holding different numbers of images (41 test canvases on 2 ranks: 21 and 20) would call
different numbers of collectives. Here each rank pads its predictions and targets to fixed
widths and keeps them as ``cat`` states: one gather per state, uneven lengths allowed; then the
whole set goes through MeanAveragePrecision (the COCO definition) on every rank.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.detection import MeanAveragePrecision

from bp_app.data.box_sets import pad_boxes, unpad

MAP_BACKEND = "faster_coco_eval"  # pinned in pyproject.toml; installs from PyPI on Python 3.11


class GatheredMeanAP(Metric):
    """``update(detections, boxes, labels)`` per batch, ``compute()`` -> MeanAveragePrecision's
    dict (map, map_50, map_75, ...) over all images of all ranks."""

    full_state_update = False

    def __init__(self, max_detections: int) -> None:
        super().__init__()
        self.max_detections = max_detections
        for name in ("pred_boxes", "pred_scores", "pred_labels", "true_boxes", "true_labels"):
            self.add_state(name, default=[], dist_reduce_fx="cat")

    def update(self, detections: list[dict[str, Tensor]], boxes: Tensor, labels: Tensor) -> None:
        """detections: one {"boxes", "scores", "labels"} per image; boxes (B, M, 4), labels
        (B, M) padded with -1."""
        width = self.max_detections
        found_boxes, found_labels = pad_boxes(
            [d["boxes"].cpu() for d in detections], [d["labels"].cpu() for d in detections], width
        )
        scores = torch.zeros(len(detections), width)
        for row, d in enumerate(detections):
            scores[row, : len(d["scores"])] = d["scores"].cpu()
        device = boxes.device
        self.pred_boxes.append(found_boxes.to(device))  # (B, P, 4)
        self.pred_scores.append(scores.to(device))  # (B, P)
        self.pred_labels.append(found_labels.to(device))  # (B, P), -1 after the last box
        self.true_boxes.append(boxes)  # (B, M, 4)
        self.true_labels.append(labels)  # (B, M)

    def compute(self) -> dict[str, Tensor]:
        def whole(state: Tensor | list[Tensor]) -> Tensor:
            # After the sync a state is one tensor; on one process it is still the list.
            return torch.cat(state) if isinstance(state, list) else state

        predictions = unpad(whole(self.pred_boxes), whole(self.pred_labels))
        scores = whole(self.pred_scores)
        for row, prediction in enumerate(predictions):
            prediction["scores"] = scores[row, : len(prediction["labels"])]
        targets = unpad(whole(self.true_boxes), whole(self.true_labels))
        metric = MeanAveragePrecision(backend=MAP_BACKEND, sync_on_compute=False)
        metric.update(predictions, targets)
        return metric.compute()
