"""A LightningDataModule for data sets small enough to live in memory as tensors."""

from __future__ import annotations

from typing import Any, ClassVar

import pytorch_lightning as pl
import torch
from torch import Tensor

from bp_app.data.loader_settings import LoaderSettings
from bp_app.data.tensor_loader import TensorBatchLoader


class InMemoryDataModule(pl.LightningDataModule):
    """Holds train / val / test splits as tensors and batches them by slices.

    Subclasses implement ``load_splits`` (called once) and say which kind of input they give
    (``kind``) so that a model paired with the wrong data fails at start.
    """

    kind: ClassVar[str] = "images"
    # A family's defaults (text and series modules batch smaller); a config overrides each key.
    loader_defaults: ClassVar[LoaderSettings] = LoaderSettings()

    def __init__(
        self,
        batch_size: int | None = None,
        eval_batch_size: int | None = None,
        seed: int | None = None,
        steps_per_batch: int | None = None,
    ) -> None:
        """Subclasses take their own keys and pass these four on as ``**loader``: the key check
        (config/keys.py) follows ``**loader`` here, so every key is still checked by name."""
        super().__init__()
        self.loader = self.loader_defaults.with_given(
            batch_size=batch_size,
            eval_batch_size=eval_batch_size,
            seed=seed,
            steps_per_batch=steps_per_batch,
        )
        self.splits: dict[str, tuple[Tensor, ...]] | None = None

    def load_splits(self) -> dict[str, tuple[Tensor, ...]]:
        """Return {"train": (x, y), "val": (x, y), "test": (x, y)}."""
        raise NotImplementedError

    def model_inputs(self) -> dict[str, Any]:
        """What a model needs to know about this data to build itself (shapes, class count)."""
        raise NotImplementedError

    def prediction_state(self) -> dict[str, Any]:
        """What prediction needs from the training split (e.g. normalization); plain values."""
        return {}

    def setup(self, stage: str | None = None) -> None:
        if self.splits is None:
            self.splits = self.load_splits()
        device = self._device()
        if device is not None:
            # The whole set moves to the training device once: no per-batch host-to-device copy.
            self.splits = {k: tuple(t.to(device) for t in v) for k, v in self.splits.items()}

    def _device(self) -> torch.device | None:
        trainer = self.trainer
        return trainer.strategy.root_device if trainer is not None else None

    def _loader(self, split: str, batch_size: int, shuffle: bool) -> TensorBatchLoader:
        if self.splits is None:
            self.setup()
        trainer = self.trainer
        return TensorBatchLoader(
            self.splits[split],
            batch_size=batch_size,
            shuffle=shuffle,
            seed=self.loader.seed,
            rank=trainer.global_rank if trainer is not None else 0,
            world_size=trainer.world_size if trainer is not None else 1,
        )

    def train_dataloader(self) -> TensorBatchLoader:
        loader = self._loader("train", self.loader.batch_size, shuffle=True)
        loader.steps_per_batch = self.loader.steps_per_batch  # evaluation: one per batch
        return loader

    def val_dataloader(self) -> TensorBatchLoader:
        return self._loader("val", self.loader.eval_batch_size, shuffle=False)

    def test_dataloader(self) -> TensorBatchLoader:
        return self._loader("test", self.loader.eval_batch_size, shuffle=False)
