"""Write a small MNIST in the real IDX format, with synthetic digits a CNN learns in a few epochs.

IDX, as MNIST ships it: a big-endian int32 magic number (2051 for images, 2049 for labels: the
low byte is the number of dimensions, the byte above it 0x08 for unsigned bytes), then each
dimension as a big-endian int32, then the values as unsigned bytes, row-major. The files go in
``<root>/MNIST/raw/`` under the names torchvision reads (uncompressed).

The digits are seven-segment glyphs, centred give or take a pixel, with a random size and
stroke, plus noise: each
class has its own set of segments, so a small network separates them, yet no two images match.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions (count, rows, columns)
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension (count)

# Segments lit for each digit: a top, b top right, c bottom right, d bottom, e bottom left,
# f top left, g middle.
SEGMENTS = {
    0: "abcdef",
    1: "bc",
    2: "abged",
    3: "abgcd",
    4: "fgbc",
    5: "afgcd",
    6: "afgedc",
    7: "abc",
    8: "abcdefg",
    9: "abcdfg",
}


def write_idx_images(path: Path, images: np.ndarray) -> None:
    """(N, rows, cols) uint8 images as an IDX3 file."""
    n, rows, cols = images.shape
    with open(path, "wb") as f:
        f.write(struct.pack(">iiii", IMAGES_MAGIC, n, rows, cols))
        f.write(np.ascontiguousarray(images, dtype=np.uint8).tobytes())


def write_idx_labels(path: Path, labels: np.ndarray) -> None:
    """(N,) labels in 0..255 as an IDX1 file."""
    with open(path, "wb") as f:
        f.write(struct.pack(">ii", LABELS_MAGIC, len(labels)))
        f.write(np.asarray(labels, dtype=np.uint8).tobytes())


def digit_image(label: int, rng: np.random.Generator, size: int = 28) -> np.ndarray:
    """One light-on-dark seven-segment digit, (size, size) uint8, placed and sized at random."""
    image = np.zeros((size, size), dtype=np.float32)
    scale = size / 28
    width = round(rng.integers(8, 12) * scale)
    height = round(rng.integers(15, 20) * scale)
    stroke = max(1, round(rng.integers(2, 4) * scale))
    # Centred like MNIST's digits, give or take a pixel.
    jitter = max(1, round(scale))
    left = (size - width - stroke) // 2 + int(rng.integers(-jitter, jitter + 1))
    top = (size - height - stroke) // 2 + int(rng.integers(-jitter, jitter + 1))
    right, bottom, middle = left + width, top + height, top + height // 2
    # Each segment as a rectangle (row0, row1, col0, col1) around its line.
    boxes = {
        "a": (top, top + stroke, left, right + stroke),
        "b": (top, middle + stroke, right, right + stroke),
        "c": (middle, bottom + stroke, right, right + stroke),
        "d": (bottom, bottom + stroke, left, right + stroke),
        "e": (middle, bottom + stroke, left, left + stroke),
        "f": (top, middle + stroke, left, left + stroke),
        "g": (middle, middle + stroke, left, right + stroke),
    }
    for segment in SEGMENTS[label]:
        r0, r1, c0, c1 = boxes[segment]
        image[r0:r1, c0:c1] = rng.uniform(180, 255)
    image += rng.normal(0, 12, size=image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def digits(count: int, rng: np.random.Generator, size: int = 28) -> tuple[np.ndarray, np.ndarray]:
    """``count`` images with balanced labels 0..9, shuffled."""
    labels = rng.permutation(np.arange(count) % 10).astype(np.uint8)
    images = np.stack([digit_image(int(y), rng, size) for y in labels])
    return images, labels


def write_fake_mnist(root: Path, n_train: int = 1200, n_test: int = 300, seed: int = 0) -> Path:
    """The four MNIST IDX files under ``root/MNIST/raw``; returns that folder."""
    raw = Path(root) / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for prefix, count in (("train", n_train), ("t10k", n_test)):
        images, labels = digits(count, rng)
        write_idx_images(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx_labels(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return raw
