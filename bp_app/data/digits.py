"""scikit-learn's bundled 8x8 handwritten digits: real data that needs no network."""

from __future__ import annotations

from typing import Any

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import Tensor

from bp_app.data.in_memory import InMemoryDataModule


class DigitsDataModule(InMemoryDataModule):
    """1,797 grayscale 8x8 digits in [0, 1], split once into stratified train / val / test."""

    kind = "images"
    input_shape = (1, 8, 8)
    num_classes = 10

    def __init__(
        self,
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        split_seed: int = 0,
        **loader: Any,
    ) -> None:
        super().__init__(**loader)  # batch_size, eval_batch_size, seed, steps_per_batch
        if (
            not 0 < val_fraction < 1
            or not 0 < test_fraction < 1
            or val_fraction + test_fraction >= 1
        ):
            raise ValueError(
                "data.val_fraction and data.test_fraction must be in (0, 1) with a sum below 1, "
                f"got {val_fraction} and {test_fraction}"
            )
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.split_seed = split_seed

    def model_inputs(self) -> dict[str, Any]:
        return {"input_shape": list(self.input_shape), "num_classes": self.num_classes}

    def load_splits(self) -> dict[str, tuple[Tensor, ...]]:
        digits = load_digits()
        x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0  # (N, 1, 8, 8)
        y = torch.tensor(digits.target, dtype=torch.long)
        index = torch.arange(len(y)).numpy()
        # A fixed split (split_seed), independent of the training seed, so runs compare fairly.
        rest, test = train_test_split(
            index, test_size=self.test_fraction, stratify=y.numpy(), random_state=self.split_seed
        )
        val_share = self.val_fraction / (1 - self.test_fraction)
        train, val = train_test_split(
            rest, test_size=val_share, stratify=y.numpy()[rest], random_state=self.split_seed
        )
        return {
            name: (x[idx], y[idx]) for name, idx in (("train", train), ("val", val), ("test", test))
        }
