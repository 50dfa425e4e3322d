"""What every classifier shares: cross-entropy, accuracy, and the mixin's training step."""

from __future__ import annotations

from typing import Any, ClassVar

import pytorch_lightning as pl
import torch.nn.functional as F
from torch import Tensor
from torchmetrics.classification import MulticlassAccuracy

from bp_app.backprop.explicit.engine import ExplicitBackpropMixin


class ClassifierModule(ExplicitBackpropMixin, pl.LightningModule):
    """A network producing class logits; subclasses build ``self.net`` and say their input kind."""

    input_kind: ClassVar[str] = "images"
    # What validation_step logs every epoch: the metrics a search may optimize and prune on.
    val_metrics: ClassVar[tuple[str, ...]] = ("val/loss", "val/acc")

    def __init__(self, num_classes: int, **backprop: Any) -> None:
        super().__init__(**backprop)
        self.num_classes = num_classes
        # torchmetrics accumulates over the epoch and syncs across DDP ranks.
        self.val_acc = MulticlassAccuracy(num_classes, average="micro")
        self.test_acc = MulticlassAccuracy(num_classes, average="micro")

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def step(self, batch: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """Forward and data loss: L = −(1/N) Σ log softmax(z)_y."""
        x, y = batch
        logits = self(x)  # (B, num_classes)
        return F.cross_entropy(logits, y), logits, y

    def log_train_metrics(self, outputs: Tensor, target: Tensor) -> None:
        accuracy = (outputs.argmax(dim=1) == target).float().mean()
        self.log("train/acc", accuracy, prog_bar=True, batch_size=len(target))

    def train_correct(self, outputs: Tensor, target: Tensor) -> Tensor:
        # eq_ writes into argmax's fresh tensor: one allocation less. On the device: no sync.
        return outputs.detach().argmax(dim=1).eq_(target).sum()

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        loss, logits, y = self.step(batch)
        self.val_acc(logits, y)
        self.log("val/loss", loss, prog_bar=True, sync_dist=True, batch_size=len(y))
        self.log("val/acc", self.val_acc, prog_bar=True, batch_size=len(y))

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> dict[str, Tensor]:
        loss, logits, y = self.step(batch)
        self.test_acc(logits, y)
        self.log("test/loss", loss, sync_dist=True, batch_size=len(y))
        self.log("test/acc", self.test_acc, batch_size=len(y))
        # Lightning hands these to the callbacks' on_test_batch_end (confusion matrix, class
        # scores): they count from this forward instead of running their own.
        return {"logits": logits.detach(), "target": y}


def test_outputs(module: Any, outputs: Any, batch: Any) -> tuple[Tensor, Tensor]:
    """(logits, target) of a test batch for the callbacks: what ClassifierModule.test_step
    returned, or, from a test_step that returns nothing, a second forward."""
    if isinstance(outputs, dict) and "logits" in outputs and "target" in outputs:
        return outputs["logits"], outputs["target"]
    _, logits, y = module.step(batch)
    return logits, y
