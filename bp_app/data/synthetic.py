"""Generated MNIST-shaped images: as much data as a throughput check wants, with no download."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from bp_app.data.in_memory import InMemoryDataModule


class SyntheticImagesDataModule(InMemoryDataModule):
    """Class c's images are x = s·μ_c + ε, with μ_c a fixed random pattern and ε ~ N(0, 1).

    The class means lie s·√(2·C·H·W) apart (about 6 noise deviations for 1x28x28 and s = 0.15),
    so a model can learn them and the test figures show whether training worked.
    """

    kind = "images"

    def __init__(
        self,
        num_train: int = 60_000,
        num_val: int = 5_000,
        num_test: int = 10_000,
        image_shape: tuple[int, int, int] | list[int] = (1, 28, 28),
        num_classes: int = 10,
        signal: float = 0.15,
        data_seed: int = 0,
        **loader: Any,
    ) -> None:
        super().__init__(**loader)  # batch_size, eval_batch_size, seed, steps_per_batch
        sizes = {"num_train": num_train, "num_val": num_val, "num_test": num_test}
        for key, value in sizes.items():
            if value < 1:
                raise ValueError(f"data.{key} must be >= 1, got {value}")
        if len(image_shape) != 3 or min(image_shape) < 1:
            raise ValueError(
                f"data.image_shape must be [channels, height, width], got {image_shape}"
            )
        if num_classes < 2:
            raise ValueError(f"data.num_classes must be >= 2, got {num_classes}")
        self.sizes = sizes
        self.image_shape = [int(v) for v in image_shape]
        self.num_classes = num_classes
        self.signal = signal
        self.data_seed = data_seed  # the data set; the training seed only shuffles

    def model_inputs(self) -> dict[str, Any]:
        return {"input_shape": list(self.image_shape), "num_classes": self.num_classes}

    def load_splits(self) -> dict[str, tuple[Tensor, ...]]:
        generator = torch.Generator().manual_seed(self.data_seed)
        means = torch.randn(
            self.num_classes, *self.image_shape, generator=generator
        )  # (K, C, H, W)
        splits = {}
        for split in ("train", "val", "test"):
            n = self.sizes[f"num_{split}"]
            y = torch.randint(0, self.num_classes, (n,), generator=generator)
            x = torch.randn(n, *self.image_shape, generator=generator)  # (N, C, H, W): ε
            x.add_(means[y], alpha=self.signal)  # x = s·μ_y + ε
            splits[split] = (x, y)
        return splits
