"""The detector's head in FCOS style: per location a class score, four distances, a centerness.

The feature map has one location per ``stride`` pixels, at centre (x, y) = ((j + ½)s, (i + ½)s).
A location is *positive* for a ground-truth box when it lies inside the box and within
``radius`` strides of the box's centre (centre sampling); a location inside several takes the
smallest box. A positive location learns

    class        its box's label                               focal loss, all locations
    distances    l = x − x1, t = y − y1, r = x2 − x, b = y2 − y  GIoU loss on the decoded box
    centerness   c = √( min(l, r)/max(l, r) · min(t, b)/max(t, b) )   BCE, positives only

Decoding inverts the distances: box = (x − l, y − t, x + r, y + b); the score √(p_class · c)
ranks the boxes and ``batched_nms`` keeps one per object and class.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.ops import batched_nms, generalized_box_iou_loss, sigmoid_focal_loss


def location_centres(height: int, width: int, stride: int, device: torch.device) -> Tensor:
    """(H·W, 2) pixel centres (x, y) of the feature map's locations, row by row."""
    ys = (torch.arange(height, device=device, dtype=torch.float32) + 0.5) * stride
    xs = (torch.arange(width, device=device, dtype=torch.float32) + 0.5) * stride
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")  # (H, W) each
    return torch.stack([grid_x.flatten(), grid_y.flatten()], dim=1)


@dataclass
class Targets:
    """What each location should predict: label (B, L) with -1 for background, the assigned
    box (B, L, 4) and its distances (B, L, 4), meaningful where label >= 0."""

    labels: Tensor
    boxes: Tensor
    distances: Tensor

    @property
    def positive(self) -> Tensor:
        return self.labels >= 0  # (B, L)


def encode(boxes: Tensor, labels: Tensor, centres: Tensor, stride: int, radius: float) -> Targets:
    """Assign boxes (B, M, 4) with labels (B, M) (-1 = padding) to locations (L, 2)."""
    x, y = centres[:, 0][None, :, None], centres[:, 1][None, :, None]  # (1, L, 1)
    x1, y1, x2, y2 = (boxes[..., k][:, None, :] for k in range(4))  # (B, 1, M) each
    distances = torch.stack([x - x1, y - y1, x2 - x, y2 - y], dim=-1)  # (B, L, M, 4)
    inside = distances.min(dim=-1).values > 0  # (B, L, M)
    reach = radius * stride
    near = ((x - (x1 + x2) / 2).abs() < reach) & ((y - (y1 + y2) / 2).abs() < reach)
    area = ((x2 - x1) * (y2 - y1)).expand_as(inside)  # (B, L, M)
    candidate = inside & near & (labels[:, None, :] >= 0)
    area = torch.where(candidate, area, torch.full_like(area, float("inf")))
    best_area, best = area.min(dim=-1)  # (B, L): the smallest candidate box per location
    positive = torch.isfinite(best_area)
    chosen_labels = labels.gather(1, best)  # (B, L)
    chosen_boxes = boxes.gather(1, best[..., None].expand(-1, -1, 4))  # (B, L, 4)
    chosen_distances = distances.gather(2, best[..., None, None].expand(-1, -1, 1, 4))[:, :, 0]
    return Targets(
        labels=torch.where(positive, chosen_labels, torch.full_like(chosen_labels, -1)),
        boxes=chosen_boxes,
        distances=chosen_distances,
    )


def centerness(distances: Tensor) -> Tensor:
    """c = √( min(l, r)/max(l, r) · min(t, b)/max(t, b) ): 1 at the box's centre, 0 at an edge."""
    lr, tb = distances[..., [0, 2]], distances[..., [1, 3]]
    ratio = (lr.min(-1).values / lr.max(-1).values) * (tb.min(-1).values / tb.max(-1).values)
    return ratio.clamp(min=0).sqrt()


def distances_to_boxes(centres: Tensor, distances: Tensor) -> Tensor:
    """(L, 2) centres and (..., L, 4) distances l t r b -> (..., L, 4) boxes x1 y1 x2 y2."""
    x, y = centres[:, 0], centres[:, 1]
    left, top, right, bottom = distances.unbind(-1)
    return torch.stack([x - left, y - top, x + right, y + bottom], dim=-1)


@dataclass
class HeadOutput:
    """Raw head outputs per location: class logits (B, L, C), distances in pixels (B, L, 4)
    (positive by construction), centerness logits (B, L)."""

    class_logits: Tensor
    distances: Tensor
    centerness_logits: Tensor


def detection_losses(
    out: HeadOutput, targets: Targets, centres: Tensor, alpha: float, gamma: float
) -> dict[str, Tensor]:
    """The three loss terms, each a mean over what it is about.

    Focal loss (per location and class, p_t the probability of the right answer):
        FL = −α_t (1 − p_t)^γ log p_t,   summed and divided by the number of positives.
    The factor (1 − p_t)^γ shrinks the loss and its gradient on the many easy background
    locations (p_t → 1), so the few object locations are not drowned out.
    GIoU loss on positives: 1 − GIoU(decoded box, ground-truth box).
    Centerness: binary cross-entropy against c of the assigned box, on positives.
    """
    positive = targets.positive  # (B, L)
    num_positive = positive.sum().clamp(min=1)
    num_classes = out.class_logits.shape[-1]
    one_hot = F.one_hot(targets.labels.clamp(min=0), num_classes).float()  # (B, L, C)
    one_hot = one_hot * positive[..., None]  # background rows all zero
    loss_class = sigmoid_focal_loss(
        out.class_logits, one_hot, alpha=alpha, gamma=gamma, reduction="sum"
    )
    predicted_boxes = distances_to_boxes(centres, out.distances)[positive]  # (P, 4)
    loss_box = generalized_box_iou_loss(predicted_boxes, targets.boxes[positive], reduction="sum")
    target_centerness = centerness(targets.distances[positive])  # (P,)
    loss_centerness = F.binary_cross_entropy_with_logits(
        out.centerness_logits[positive], target_centerness, reduction="sum"
    )
    return {
        "loss_class": loss_class / num_positive,
        "loss_box": loss_box / num_positive,
        "loss_centerness": loss_centerness / num_positive,
    }


def decode(
    out: HeadOutput,
    centres: Tensor,
    image_size: tuple[int, int],
    score_threshold: float,
    nms_iou: float,
    max_detections: int,
    pre_nms: int = 200,
) -> list[dict[str, Tensor]]:
    """One {"boxes", "scores", "labels"} per image: the best ``pre_nms`` (location, class) pairs
    above the threshold, clipped to the image, then ``batched_nms`` per class."""
    height, width = image_size
    scores = (out.class_logits.sigmoid() * out.centerness_logits.sigmoid()[..., None]).sqrt()
    boxes = distances_to_boxes(centres, out.distances)  # (B, L, 4)
    boxes = torch.stack(
        [
            boxes[..., 0].clamp(0, width),
            boxes[..., 1].clamp(0, height),
            boxes[..., 2].clamp(0, width),
            boxes[..., 3].clamp(0, height),
        ],
        dim=-1,
    )
    num_classes = scores.shape[-1]
    results = []
    for image_scores, image_boxes in zip(scores, boxes, strict=False):  # (L, C), (L, 4)
        flat = image_scores.flatten()  # (L·C,), index = location · C + class
        top_scores, top = flat.topk(min(pre_nms, flat.numel()))
        keep = top_scores > score_threshold
        top_scores, top = top_scores[keep], top[keep]
        locations, labels = top // num_classes, top % num_classes
        candidate_boxes = image_boxes[locations]
        kept = batched_nms(candidate_boxes, top_scores, labels, nms_iou)[:max_detections]
        results.append(
            {"boxes": candidate_boxes[kept], "scores": top_scores[kept], "labels": labels[kept]}
        )
    return results
