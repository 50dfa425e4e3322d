"""Training throughput in samples per second, for GPU checks and benchmarks."""

from __future__ import annotations

import time
from typing import Any

import pytorch_lightning as pl
import torch

from bp_app.data.tensor_loader import batch_samples


class Throughput(pl.Callback):
    """Times each training epoch's batches (validation excluded), skipping the first epochs as
    warm-up, and prints ``throughput: N samples/s`` from rank 0 at the end of fit.

    Samples count over all ranks. The device is synchronized only at an epoch's first and last
    batch, so the steps in between run as they would without this callback.
    """

    def __init__(self, warmup_epochs: int = 1) -> None:
        self.warmup_epochs = warmup_epochs
        self.samples = 0
        self.seconds = 0.0
        self.epoch_samples = 0
        self.started = 0.0
        self.samples_per_second: float | None = None

    def _now(self, pl_module: pl.LightningModule) -> float:
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize(pl_module.device)
        return time.perf_counter()

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.epoch_samples = 0
        self.started = self._now(pl_module)

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        self.epoch_samples += batch_samples(batch)  # a StepGroup holds several mini-batches
        if batch_idx + 1 == trainer.num_training_batches and (
            trainer.current_epoch >= self.warmup_epochs
        ):
            self.seconds += self._now(pl_module) - self.started
            self.samples += self.epoch_samples * trainer.world_size

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        if self.seconds <= 0:
            print(f"throughput: not measured (needs more than {self.warmup_epochs} epoch(s))")
            return
        self.samples_per_second = self.samples / self.seconds
        print(
            f"throughput: {self.samples_per_second:,.0f} samples/s ({self.samples} samples "
            f"in {self.seconds:.2f} s, {trainer.world_size} process(es), {trainer.precision})"
        )
