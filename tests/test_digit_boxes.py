"""data=digit_boxes: deterministic canvases, tight boxes inside the canvas, disjoint source
digits per split, and MNIST's digits joining the pools when its files are present."""

from __future__ import annotations

import torch

from bp_app.data.digit_boxes import DigitBoxesDataModule
from tests.fake_mnist import write_fake_mnist

SMALL = {"train_size": 40, "val_size": 10, "test_size": 10}


def test_canvases_are_deterministic_with_boxes_on_ink_inside_the_canvas(tmp_path):
    first = DigitBoxesDataModule(root=str(tmp_path), **SMALL).load_splits()
    again = DigitBoxesDataModule(root=str(tmp_path), **SMALL).load_splits()
    other = DigitBoxesDataModule(root=str(tmp_path), split_seed=1, **SMALL).load_splits()
    for name in ("train", "val", "test"):
        assert all(torch.equal(a, b) for a, b in zip(first[name], again[name], strict=True))
    assert not torch.equal(first["train"][0], other["train"][0])
    images, boxes, labels = first["train"]
    assert images.shape == (40, 1, 64, 64) and boxes.shape == (40, 4, 4)
    counts = (labels >= 0).sum(dim=1)
    assert counts.min() >= 1 and counts.max() <= 4
    for image, image_boxes, image_labels in zip(images, boxes, labels, strict=True):
        for x1, y1, x2, y2 in image_boxes[image_labels >= 0].long().tolist():
            assert 0 <= x1 < x2 <= 64 and 0 <= y1 < y2 <= 64
            inside = image[0, y1:y2, x1:x2]
            assert inside.max() > 0.2  # ink in the box, on its edges too (a tight box)
            assert inside[0].max() > 0.2 or inside[:, 0].max() > 0.2


def test_split_pools_are_disjoint_and_mnist_joins_them(tmp_path):
    plain = DigitBoxesDataModule(root=str(tmp_path), **SMALL).source_pools()
    sizes = {name: len(pool[1]) for name, pool in plain.items()}
    assert sum(sizes.values()) == 1797  # every scikit-learn digit in exactly one pool
    flat = {name: pool[0].flatten(1) for name, pool in plain.items()}
    shared = (flat["train"][:, None] == flat["test"][None]).all(-1)  # identical images
    assert shared.sum() <= 2  # scikit-learn's set holds a few exact duplicates, no more
    write_fake_mnist(tmp_path, n_train=200, n_test=50)
    joined = DigitBoxesDataModule(root=str(tmp_path), **SMALL).source_pools()
    assert len(joined["test"][1]) == sizes["test"] + 50  # MNIST's test file feeds test only
    assert len(joined["train"][1]) + len(joined["val"][1]) == sizes["train"] + sizes["val"] + 200
    assert joined["train"][0].shape[1:] == (28, 28)
