"""Digit canvases for detection: real handwritten digits pasted onto a dark canvas, with boxes.

Each canvas holds 1 to ``max_digits`` digits at random positions and sizes; a digit is resized
to its drawn size, pasted by taking the brighter pixel, and boxed tightly around its ink
(pixels above ``INK``). A placement whose box overlaps an earlier one by IoU > ``max_overlap``
is drawn again. Source digits come from scikit-learn's bundled 8x8 digits and, when the MNIST
IDX files are in ``<root>/MNIST/raw``, from MNIST too. The sources are split once into
disjoint train / val / test pools, so the test canvases hold handwriting never trained on.
Everything follows from ``split_seed``: the same canvases for every training seed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import Tensor
from torchvision.ops import box_iou

from bp_app.data.box_sets import BoxDataModule, pad_boxes
from bp_app.errors import DataError

INK = 0.2  # a pixel brighter than this (of 1) is ink: the box's edge
PLACEMENT_TRIES = 20  # draws per digit before a crowded canvas keeps fewer digits


def sklearn_digits() -> tuple[Tensor, Tensor]:
    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32) / 16.0  # (1797, 8, 8) in [0, 1]
    return images, torch.tensor(digits.target, dtype=torch.long)


def mnist_digits(root: Path) -> tuple[Tensor, Tensor, Tensor, Tensor] | None:
    """MNIST's train and test digits when its IDX files are present, else None."""
    from bp_app.data.mnist import RAW_FILES, check_idx_file

    raw = root / "MNIST" / "raw"
    if not all((raw / name).exists() for name in RAW_FILES):
        return None
    for name in RAW_FILES:
        check_idx_file(raw / name)
    from torchvision.datasets import MNIST

    train, test = MNIST(str(root), train=True), MNIST(str(root), train=False)
    return train.data / 255.0, train.targets, test.data / 255.0, test.targets


def paste_digits(
    sources: Tensor,
    labels: Tensor,
    count: int,
    canvas_size: int,
    digit_sizes: tuple[int, int],
    max_digits: int,
    max_overlap: float,
    generator: torch.Generator,
) -> tuple[Tensor, list[Tensor], list[Tensor]]:
    """``count`` canvases (count, 1, S, S) with their boxes (n_i, 4) and labels (n_i,)."""
    canvases = torch.zeros(count, 1, canvas_size, canvas_size)
    all_boxes, all_labels = [], []
    low, high = digit_sizes
    for i in range(count):
        wanted = int(torch.randint(1, max_digits + 1, (1,), generator=generator))
        boxes: list[Tensor] = []
        chosen: list[int] = []
        for _ in range(wanted):
            pick = int(torch.randint(len(sources), (1,), generator=generator))
            size = int(torch.randint(low, high + 1, (1,), generator=generator))
            digit = F.interpolate(sources[pick][None, None], size=(size, size), mode="bilinear")
            digit = digit[0, 0].clamp(0, 1)  # (size, size)
            rows, cols = torch.nonzero(digit > INK, as_tuple=True)
            if len(rows) == 0:
                continue
            for _ in range(PLACEMENT_TRIES):
                y, x = torch.randint(0, canvas_size - size + 1, (2,), generator=generator).tolist()
                # The ink's tight box on the canvas: pixel edges, so x2 = last column + 1.
                box = torch.tensor(
                    [x + cols.min(), y + rows.min(), x + cols.max() + 1, y + rows.max() + 1],
                    dtype=torch.float32,
                )
                if boxes and box_iou(box[None], torch.stack(boxes)).max() > max_overlap:
                    continue
                region = canvases[i, 0, y : y + size, x : x + size]
                torch.maximum(region, digit, out=region)  # paste: the brighter pixel wins
                boxes.append(box)
                chosen.append(pick)
                break
        all_boxes.append(torch.stack(boxes) if boxes else torch.zeros(0, 4))
        all_labels.append(labels[chosen])
    return canvases, all_boxes, all_labels


class DigitBoxesDataModule(BoxDataModule):
    """``data=digit_boxes``: generated canvases of handwritten digits, ten classes '0'-'9'."""

    def __init__(
        self,
        root: str = "data",
        canvas_size: int = 64,
        min_digit_size: int = 14,
        max_digit_size: int = 30,
        max_digits: int = 4,
        max_overlap: float = 0.1,
        train_size: int = 4000,
        val_size: int = 400,
        test_size: int = 1000,
        source_val_fraction: float = 0.15,
        source_test_fraction: float = 0.15,
        split_seed: int = 0,
        **loader: Any,
    ) -> None:
        super().__init__(**loader)  # batch_size, eval_batch_size, seed, steps_per_batch
        if not 4 <= min_digit_size <= max_digit_size <= canvas_size:
            raise ValueError(
                "data.min_digit_size <= data.max_digit_size <= data.canvas_size must hold with "
                f"sizes >= 4, got {min_digit_size}, {max_digit_size}, {canvas_size}"
            )
        if max_digits < 1 or min(train_size, val_size, test_size) < 1:
            raise ValueError(
                "data.max_digits, train_size, val_size and test_size must be >= 1, got "
                f"{max_digits}, {train_size}, {val_size}, {test_size}"
            )
        if not 0 <= max_overlap < 1:
            raise ValueError(f"data.max_overlap is an IoU in [0, 1), got {max_overlap}")
        shares = (source_val_fraction, source_test_fraction)
        if not all(0 < s < 1 for s in shares) or sum(shares) >= 1:
            raise ValueError(
                "data.source_val_fraction and data.source_test_fraction must be in (0, 1) with "
                f"a sum below 1, got {source_val_fraction} and {source_test_fraction}"
            )
        self.root = Path(root)
        self.canvas_size = canvas_size
        self.digit_sizes = (min_digit_size, max_digit_size)
        self.max_digits = max_digits
        self.max_overlap = max_overlap
        self.sizes = {"train": train_size, "val": val_size, "test": test_size}
        self.source_fractions = shares
        self.split_seed = split_seed
        self.class_names = [str(d) for d in range(10)]
        self.image_shape = (1, canvas_size, canvas_size)

    def prediction_state(self) -> dict[str, Any]:
        """bp-predict inverts a dark-on-light picture: these canvases are light on black."""
        return {**super().prediction_state(), "light_on_dark": True}

    def source_pools(self) -> dict[str, tuple[Tensor, Tensor]]:
        """Disjoint source digits per split: scikit-learn's split by fraction, MNIST's train
        files feeding train and val, its test file feeding test."""
        images, labels = sklearn_digits()
        order = torch.randperm(
            len(labels), generator=torch.Generator().manual_seed(self.split_seed)
        )
        n_val = int(len(order) * self.source_fractions[0])
        n_test = int(len(order) * self.source_fractions[1])
        parts = {
            "val": order[:n_val],
            "test": order[n_val : n_val + n_test],
            "train": order[n_val + n_test :],
        }
        pools = {name: (images[idx], labels[idx]) for name, idx in parts.items()}
        mnist = mnist_digits(self.root)
        if mnist is not None:
            x_train, y_train, x_test, y_test = mnist
            cut = int(len(y_train) * self.source_fractions[0])
            extra = {
                "val": (x_train[:cut], y_train[:cut]),
                "train": (x_train[cut:], y_train[cut:]),
                "test": (x_test, y_test),
            }
            pools = {name: self._join(pools[name], extra[name]) for name in pools}
        return pools

    def _join(self, a: tuple[Tensor, Tensor], b: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        """8x8 and 28x28 sources in one pool: each is resized when pasted, so bring both to 28."""
        small = F.interpolate(a[0][:, None], size=(28, 28), mode="bilinear")[:, 0]
        return torch.cat([small, b[0].float()]), torch.cat([a[1], b[1]])

    def load_splits(self) -> dict[str, tuple[Tensor, ...]]:
        pools = self.source_pools()
        splits = {}
        for offset, (name, count) in enumerate(self.sizes.items()):
            sources, labels = pools[name]
            if len(sources) == 0:
                raise DataError(f"data=digit_boxes: the {name} pool of source digits is empty")
            generator = torch.Generator().manual_seed(self.split_seed * 1000 + offset)
            canvases, boxes, box_labels = paste_digits(
                sources,
                labels,
                count,
                self.canvas_size,
                self.digit_sizes,
                self.max_digits,
                self.max_overlap,
                generator,
            )
            padded_boxes, padded_labels = pad_boxes(boxes, box_labels, self.max_digits)
            splits[name] = (canvases, padded_boxes, padded_labels)
        return splits
