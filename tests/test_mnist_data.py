"""MNIST from IDX files the test writes: the format, the split, normalization, augmentation."""

from __future__ import annotations

import inspect
import struct

import numpy as np
import pytest
import torch
import yaml

from bp_app.config import config_dir
from bp_app.data.image_augment import RandomShiftRotate
from bp_app.data.mnist import MNISTDataModule
from bp_app.errors import DataError
from tests.fake_mnist import write_fake_mnist, write_idx_images


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("mnist")
    write_fake_mnist(root, n_train=600, n_test=100)
    return root


def test_fake_files_are_real_idx(mnist_root):
    raw = mnist_root / "MNIST" / "raw"
    images = (raw / "train-images-idx3-ubyte").read_bytes()
    labels = (raw / "train-labels-idx1-ubyte").read_bytes()
    assert struct.unpack(">iiii", images[:16]) == (2051, 600, 28, 28)
    assert struct.unpack(">ii", labels[:8]) == (2049, 600)
    assert len(images) == 16 + 600 * 28 * 28 and len(labels) == 8 + 600
    assert set(labels[8:]) == set(range(10))


def test_split_and_training_set_normalization(mnist_root):
    data = MNISTDataModule(root=str(mnist_root), val_size=100)
    data.setup("fit")
    (x_train, y_train), (x_val, _), (x_test, y_test) = (
        data.splits[s] for s in ("train", "val", "test")
    )
    assert x_train.shape == (500, 1, 28, 28) and x_val.shape == (100, 1, 28, 28)
    assert x_test.shape == (100, 1, 28, 28) and len(y_test) == 100
    assert y_train.dtype == torch.long
    # Mean and std come from the training part only: it is standardized, val and test use it.
    assert abs(float(x_train.mean())) < 1e-4 and abs(float(x_train.std()) - 1) < 1e-4
    state = data.prediction_state()["normalization"]
    assert isinstance(state["mean"], float) and 0 < state["mean"] < 1 and state["std"] > 0
    assert data.model_inputs() == {"input_shape": [1, 28, 28], "num_classes": 10}


def test_split_is_fixed_by_split_seed_not_by_the_training_seed(mnist_root):
    a = MNISTDataModule(root=str(mnist_root), val_size=100, seed=1)
    b = MNISTDataModule(root=str(mnist_root), val_size=100, seed=2)
    a.setup()
    b.setup()
    assert torch.equal(a.splits["val"][0], b.splits["val"][0])


def test_default_split_is_55000_train_5000_validation():
    default = inspect.signature(MNISTDataModule).parameters["val_size"].default
    conf = yaml.safe_load((config_dir() / "data" / "mnist.yaml").read_text())
    assert default == conf["val_size"] == 5000  # of MNIST's 60,000 training images


def test_missing_files_name_the_folder_and_the_fix(tmp_path):
    with pytest.raises(DataError, match=r"MNIST files not found in .*MNIST/raw.*data\.root="):
        MNISTDataModule(root=str(tmp_path)).setup()


def test_corrupt_file_is_a_data_error(tmp_path):
    raw = write_fake_mnist(tmp_path, n_train=20, n_test=10)
    (raw / "t10k-images-idx3-ubyte").write_bytes(b"\x00\x00\x00\x00garbage")
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte is not an IDX file"):
        MNISTDataModule(root=str(tmp_path), val_size=5).setup()


def test_wrong_image_size_is_a_data_error(tmp_path):
    raw = write_fake_mnist(tmp_path, n_train=20, n_test=10)
    write_idx_images(raw / "train-images-idx3-ubyte", np.zeros((20, 20, 20), dtype=np.uint8))
    with pytest.raises(DataError, match=r"\(20, 20\) pixels.*expected 28x28"):
        MNISTDataModule(root=str(tmp_path), val_size=5).setup()


def test_augmentation_off_leaves_batches_alone(mnist_root):
    data = MNISTDataModule(root=str(mnist_root), val_size=100, batch_size=50)
    assert data.train_dataloader().collate is None


def shifted(image: torch.Tensor, dy: int, dx: int, fill: float) -> torch.Tensor:
    """(C, H, W) moved down dy and right dx whole pixels, the uncovered edge set to ``fill``."""
    out = torch.full_like(image, fill)
    h, w = image.shape[1:]
    out[:, max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = image[
        :, max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)
    ]
    return out


def test_augmentation_shifts_training_batches_only(mnist_root):
    data = MNISTDataModule(root=str(mnist_root), val_size=100, batch_size=50, augment_shift=2)
    data.setup()
    torch.manual_seed(0)
    x, y = next(iter(data.train_dataloader()))
    plain = MNISTDataModule(root=str(mnist_root), val_size=100, batch_size=50)
    x_plain, y_plain = next(iter(plain.train_dataloader()))  # same seed: same order
    assert x.shape == (50, 1, 28, 28) and torch.equal(y, y_plain)
    background = -data.normalization["mean"] / data.normalization["std"]
    # Each image is its original moved by whole pixels (at most 2), the edge filled with black.
    moves = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)]
    found = []
    for moved, original in zip(x, x_plain, strict=True):
        matches = [
            m for m in moves if torch.allclose(moved, shifted(original, *m, background), atol=1e-4)
        ]
        assert matches, "an augmented image is not a whole-pixel shift of its original"
        found.append(matches[0])
    assert len(set(found)) > 5  # the shifts differ between images
    val_x, _ = next(iter(data.val_dataloader()))
    assert torch.equal(val_x, data.splits["val"][0][: len(val_x)])


def test_shift_moves_a_pixel_by_at_most_the_limit():
    x = torch.zeros(64, 1, 9, 9)
    x[:, 0, 4, 4] = 1.0
    torch.manual_seed(0)
    moved = RandomShiftRotate(max_shift=2)((x, torch.zeros(64)))[0]
    rows, cols = (moved[:, 0] > 0.5).nonzero()[:, 1:].T
    assert len(rows) == 64  # each image still holds its one pixel, exactly
    assert rows.sub(4).abs().max() <= 2 and cols.sub(4).abs().max() <= 2
    assert len(set(zip(rows.tolist(), cols.tolist(), strict=True))) > 10  # and shifts vary


def test_rotation_turns_about_the_centre_and_fills_with_background():
    x = torch.full((8, 1, 28, 28), -0.4)
    x[:, :, 12:16, 4:24] = 2.0  # a horizontal bar through the centre
    torch.manual_seed(0)
    turned = RandomShiftRotate(max_degrees=30, background=-0.4).transform(x)
    assert turned.shape == x.shape
    assert torch.allclose(turned[:, :, 0, 0], torch.tensor(-0.4))  # corners stay background
    assert (turned[:, 0, 13:15, 13:15].mean(dim=(1, 2)) > 1.5).all()  # the centre stays put
    # The bar's ends move off row 12..15 by different angles, so the images differ.
    assert (turned[:, 0, 12:16, 4:6] < 1.9).any(dim=(1, 2)).all()
    assert len({round(float(t.sum()), 3) for t in turned}) > 1
    identity = RandomShiftRotate().transform(x)
    assert torch.allclose(identity, x, atol=1e-5)
