"""The detector's head: target encoding and decoding are inverses, the loss terms behave as the
docs say, and unsupported choices fail at start."""

from __future__ import annotations

import pytest
import torch
from torchvision.ops import box_iou, sigmoid_focal_loss

from bp_app.config.checks import check_train_config
from bp_app.data.box_sets import pad_boxes, unpad
from bp_app.errors import ConfigError
from bp_app.models.detection_head import (
    HeadOutput,
    centerness,
    decode,
    detection_losses,
    encode,
    location_centres,
)
from bp_app.models.detector import DetectorModule
from tests.conftest import compose_config

STRIDE, SIDE, CLASSES = 4, 64, 10
ADAM = {"name": "adam", "lr": 1e-3}


def perfect_output(targets, num_classes: int) -> HeadOutput:
    """The head outputs a perfectly trained detector would give for these targets."""
    positive = targets.positive
    logits = torch.full((*targets.labels.shape, num_classes), -20.0)
    logits[positive, targets.labels[positive]] = 20.0  # p = 1 for the right class, 0 elsewhere
    c = centerness(targets.distances).clamp(1e-6, 1 - 1e-6)
    return HeadOutput(logits, targets.distances.clamp(min=0), torch.logit(c))


def grid_boxes() -> tuple[torch.Tensor, torch.Tensor]:
    """Two images with boxes whose edges lie on the output grid (multiples of the stride)."""
    boxes = [
        torch.tensor([[4.0, 8.0, 24.0, 36.0], [36.0, 12.0, 60.0, 32.0], [8.0, 44.0, 28.0, 60.0]]),
        torch.tensor([[20.0, 20.0, 48.0, 52.0]]),
    ]
    labels = [torch.tensor([3, 7, 0]), torch.tensor([9])]
    return pad_boxes(boxes, labels)


def test_encoding_then_decoding_gives_back_the_ground_truth_boxes():
    boxes, labels = grid_boxes()
    centres = location_centres(SIDE // STRIDE, SIDE // STRIDE, STRIDE, torch.device("cpu"))
    targets = encode(boxes, labels, centres, STRIDE, radius=1.5)
    assert (targets.positive.sum(dim=1) > 0).all()
    found = decode(perfect_output(targets, CLASSES), centres, (SIDE, SIDE), 0.05, 0.5, 50)
    for detections, truth in zip(found, unpad(boxes, labels), strict=False):
        assert len(detections["boxes"]) == len(truth["boxes"])  # NMS left one box per object
        iou = box_iou(detections["boxes"], truth["boxes"])  # (found, truth)
        best, match = iou.max(dim=1)
        torch.testing.assert_close(best, torch.ones_like(best))  # IoU 1: the very same boxes
        assert sorted(match.tolist()) == list(range(len(truth["boxes"])))
        assert detections["labels"].tolist() == truth["labels"][match].tolist()


def test_every_object_gets_positive_locations_and_the_smaller_box_wins_a_shared_one():
    boxes, labels = pad_boxes(
        [torch.tensor([[0.0, 0.0, 40.0, 40.0], [12.0, 12.0, 28.0, 28.0]])], [torch.tensor([1, 2])]
    )
    centres = location_centres(16, 16, STRIDE, torch.device("cpu"))
    targets = encode(boxes, labels, centres, STRIDE, radius=1.5)
    # Both boxes share a centre (20, 20): the locations there go to the smaller box, label 2.
    centre_location = 4 * 16 + 4  # row 4, column 4: centre (18, 18)
    assert targets.labels[0, centre_location] == 2
    torch.testing.assert_close(targets.boxes[0, centre_location], boxes[0, 1])
    assert (targets.labels[0] == 2).sum() > 0
    # Padding (label -1) never becomes a positive.
    assert set(targets.labels[0].unique().tolist()) <= {-1, 1, 2}


def test_focal_loss_reweights_easy_negatives_far_more_than_hard_ones():
    """(1 − p_t)^γ: an easy background location (p = 0.01) loses almost all its weight, a hard
    one (p = 0.9) keeps most; plain cross-entropy would weigh them 1 : 1 per unit of loss."""
    logits = torch.logit(torch.tensor([0.01, 0.9]))
    target = torch.zeros(2)
    focal = sigmoid_focal_loss(logits, target, alpha=0.25, gamma=2.0, reduction="none")
    plain = sigmoid_focal_loss(logits, target, alpha=0.25, gamma=0.0, reduction="none")
    weight = focal / plain  # = p_t's complement squared: 0.01² and 0.9²
    torch.testing.assert_close(weight, torch.tensor([0.01**2, 0.9**2]), rtol=1e-4, atol=0)


def test_loss_terms_vanish_for_the_perfect_output_and_the_gradient_reaches_every_part():
    boxes, labels = grid_boxes()
    centres = location_centres(16, 16, STRIDE, torch.device("cpu"))
    targets = encode(boxes, labels, centres, STRIDE, radius=1.5)
    perfect = detection_losses(perfect_output(targets, CLASSES), targets, centres, 0.25, 2.0)
    assert perfect["loss_class"] < 1e-6 and perfect["loss_box"] < 1e-6
    model = DetectorModule([1, SIDE, SIDE], [str(k) for k in range(CLASSES)], optimizer=ADAM)
    images = torch.rand(2, 1, SIDE, SIDE)
    loss, _, _ = model.step((images, boxes, labels))
    assert set(model.loss_parts) == {"loss_class", "loss_box", "loss_centerness"}
    torch.testing.assert_close(loss, sum(model.loss_parts.values()))  # box_weight 1
    loss.backward()
    heads = (model.net.class_logits, model.net.box, model.net.centerness)
    assert all(h.weight.grad is not None and h.weight.grad.abs().sum() > 0 for h in heads)


def test_explicit_backprop_is_refused_at_start_with_the_fix():
    with pytest.raises(ConfigError, match="model.backprop='explicit' is not supported.*autograd"):
        DetectorModule([1, SIDE, SIDE], ["a"], backprop="explicit", optimizer=ADAM)


def test_image_sides_must_fit_the_stride():
    with pytest.raises(ConfigError, match="divisible by 4"):
        DetectorModule([1, 30, 30], ["a"], optimizer=ADAM)


def test_detector_with_image_labels_fails_at_start_naming_the_box_data(tmp_path):
    cfg = compose_config("train", ["model=detector", "data=digits"], tmp_path / "run")
    with pytest.raises(ConfigError, match="takes boxes.*data=coco, data=digit_boxes"):
        check_train_config(cfg)
