"""A classifier's test set, class by class: precision and recall per class as scalars, and for
two classes the precision-recall curve (TensorBoard's PR CURVES tab).

    precision_c = C[c, c] / Σ_i C[i, c]      recall_c = C[c, c] / Σ_j C[c, j]

with C[true, predicted] the confusion counts. The curve is counted per threshold on the device
(fixed-size histograms, summed over DDP ranks), as TensorBoard's own pr_curve summary does.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor

from bp_app.callbacks.run_summary import tensorboard_writers
from bp_app.models.classifier import ClassifierModule, test_outputs

PR_TAG = "test/pr_curve"


class ClassScores(pl.Callback):
    """On classifiers (ClassifierModule): test/precision/<c>, test/recall/<c>, the PR curve."""

    def __init__(self, num_thresholds: int = 127) -> None:
        if num_thresholds < 2:
            raise ValueError(
                f"callbacks.class_scores.num_thresholds must be >= 2, got {num_thresholds}"
            )
        self.num_thresholds = num_thresholds
        self.confusion: Tensor | None = None
        self.histograms: Tensor | None = None  # (2, T): positive and negative examples per bin

    def on_test_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not isinstance(pl_module, ClassifierModule):  # one label per example (not boxes)
            return
        k = pl_module.num_classes
        self.confusion = torch.zeros(k, k, device=pl_module.device)
        self.histograms = torch.zeros(2, self.num_thresholds, device=pl_module.device)

    def on_test_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if self.confusion is None or self.histograms is None:
            return
        logits, y = test_outputs(pl_module, outputs, batch)
        k = self.confusion.shape[0]
        # C[true, predicted] += 1 as one-hot products, (k, B) @ (B, k): no host sync.
        self.confusion += F.one_hot(y, k).T.float() @ F.one_hot(logits.argmax(dim=1), k).float()
        if k == 2:
            p = logits.float().softmax(dim=1)[:, 1]  # (B,) the score of the positive class
            bins = (p * (self.num_thresholds - 1)).long().clamp(0, self.num_thresholds - 1)
            in_bin = F.one_hot(bins, self.num_thresholds).float()  # (B, T)
            # Positives and negatives per bin as products: deterministic, no host sync.
            self.histograms[0] += (y == 1).float() @ in_bin
            self.histograms[1] += (y == 0).float() @ in_bin

    def on_test_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.confusion is None or self.histograms is None:
            return
        counts = summed(pl_module, self.confusion)
        histograms = summed(pl_module, self.histograms)
        self.confusion = self.histograms = None
        if not trainer.is_global_zero:
            return
        correct = counts.diagonal()
        precision = correct / counts.sum(dim=0).clamp(min=1)  # no prediction of c: 0
        recall = correct / counts.sum(dim=1).clamp(min=1)
        for writer in tensorboard_writers(trainer):
            for c in range(len(correct)):
                writer.add_scalar(f"test/precision/{c}", float(precision[c]), trainer.global_step)
                writer.add_scalar(f"test/recall/{c}", float(recall[c]), trainer.global_step)
            if len(correct) == 2:
                write_pr_curve(writer, histograms.cpu(), trainer.global_step)


def summed(pl_module: pl.LightningModule, counts: Tensor) -> Tensor:
    gathered = pl_module.all_gather(counts)  # every rank calls it: a collective
    return gathered.sum(dim=0) if gathered.dim() > counts.dim() else gathered


def write_pr_curve(writer: Any, histograms: Tensor, step: int) -> None:
    """Counts at threshold t_i = i / (T - 1): an example is called positive when p >= t_i."""
    positives, negatives = histograms.double()
    tp = positives.flip(0).cumsum(0).flip(0)  # positives with a score in bin i or above
    fp = negatives.flip(0).cumsum(0).flip(0)
    fn = positives.sum() - tp
    tn = negatives.sum() - fp
    precision = tp / (tp + fp).clamp(min=1)
    recall = tp / (tp + fn).clamp(min=1)
    writer.add_pr_curve_raw(PR_TAG, tp, fp, tn, fn, precision, recall, step, num_thresholds=len(tp))
