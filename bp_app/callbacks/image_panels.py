"""Pictures of an image classifier at work: sample predictions at validation end, the confusion
matrix at test end, as TensorBoard images and as PNG files in the run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from PIL import Image
from pytorch_lightning.loggers import TensorBoardLogger
from torch import Tensor

from bp_app.callbacks.figures import confusion_image, sample_grid
from bp_app.models.classifier import test_outputs

VAL_TAG = "val/samples"
TEST_TAG = "test/confusion_matrix"


class ImagePanels(pl.Callback):
    """Draws, on rank zero, a grid of validation images titled with predicted and true labels,
    and the test set's confusion matrix. Does nothing for models that do not take images."""

    def __init__(self, dirpath: str, num_samples: int = 16, every_n_epochs: int = 1) -> None:
        if num_samples < 1 or every_n_epochs < 1:
            raise ValueError(
                "callbacks.image_panels.num_samples and every_n_epochs must be >= 1, "
                f"got {num_samples} and {every_n_epochs}"
            )
        self.dirpath = Path(dirpath)
        self.num_samples = num_samples
        self.every_n_epochs = every_n_epochs
        self.active = False
        self.samples: tuple[Tensor, Tensor, Tensor] | None = None
        self.confusion: Tensor | None = None
        self.class_names: list[str] | None = None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self.active = (
            getattr(pl_module, "input_kind", None) == "images"
            and getattr(pl_module, "num_classes", None) is not None
        )
        # Data with named classes (Fashion-MNIST) labels the figures with them.
        self.class_names = getattr(trainer.datamodule, "class_names", None)

    # ------------------------------------------------------------------ validation samples
    def _due(self, trainer: pl.Trainer) -> bool:
        epoch = trainer.current_epoch + 1
        return epoch % self.every_n_epochs == 0 or epoch == trainer.max_epochs

    def on_validation_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        # The first images of the validation set, every time: watch the same digits get learned.
        if not self.active or batch_idx != 0 or trainer.sanity_checking:
            return
        if not trainer.is_global_zero or not self._due(trainer):
            return
        x, y = batch[0][: self.num_samples], batch[1][: self.num_samples]
        probabilities = pl_module(x).softmax(dim=1)  # (n, classes); the loop runs without grad
        self.samples = (x.float().cpu(), y.cpu(), probabilities.float().cpu())

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.samples is None:
            return
        x, y, probabilities = self.samples
        self.samples = None
        confidence, predicted = probabilities.max(dim=1)
        rgb = sample_grid(
            x.numpy(),
            y.tolist(),
            predicted.tolist(),
            confidence.tolist(),
            trainer.current_epoch,
            self.class_names,
        )
        name = f"val_samples_epoch{trainer.current_epoch:03d}.png"
        self._publish(trainer, rgb, VAL_TAG, name)

    # ------------------------------------------------------------------ confusion matrix
    def on_test_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.active:
            k = pl_module.num_classes
            self.confusion = torch.zeros(k, k, device=pl_module.device)

    def on_test_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if self.confusion is None:
            return
        logits, y = test_outputs(pl_module, outputs, batch)  # test_step's forward, reused
        k = self.confusion.shape[0]
        predicted = logits.argmax(dim=1)  # (B,)
        # Counts C[true, predicted] += 1 as one-hot products: (k, B) @ (B, k), deterministic
        # on every device (bincount is not on CUDA), and no host sync per batch.
        self.confusion += F.one_hot(y, k).T.float() @ F.one_hot(predicted, k).float()

    def on_test_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.confusion is None:
            return
        counts = pl_module.all_gather(self.confusion)  # every rank calls it: a collective
        if counts.dim() == 3:  # (world, k, k) under DDP: each rank counted its own shard
            counts = counts.sum(dim=0)
        self.confusion = None
        if trainer.is_global_zero:
            matrix = counts.round().long().cpu().numpy()
            self._publish(
                trainer,
                confusion_image(matrix, self.class_names),
                TEST_TAG,
                "confusion_matrix.png",
            )

    # ------------------------------------------------------------------ output
    def _publish(self, trainer: pl.Trainer, rgb: np.ndarray, tag: str, filename: str) -> None:
        """The same (H, W, 3) pixels to a PNG in the run directory and to TensorBoard."""
        self.dirpath.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rgb).save(self.dirpath / filename)
        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                logger.experiment.add_image(
                    tag, np.ascontiguousarray(rgb), trainer.global_step, dataformats="HWC"
                )
