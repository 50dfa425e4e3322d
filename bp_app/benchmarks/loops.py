"""The loops bp_app's epoch is compared with, and the timed Lightning epoch (bp-bench).

raw          in-memory tensors, randperm index slices, zero_grad / forward / backward / step
automatic    Lightning's automatic optimization: training_step returns the loss
Every run trains a short warm-up first (Adam's state, Lightning's first logging step, the
TensorBoard file), then one full timed epoch, as a long run's epochs are.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
import yaml
from hydra.utils import instantiate
from torch import Tensor

from bp_app.config import config_dir
from bp_app.data.synthetic import SyntheticImagesDataModule
from bp_app.data.tensor_loader import TensorBatchLoader
from bp_app.optim.factory import build_optimizer

BATCH = 128


def conf(path: str) -> dict[str, Any]:
    """A YAML file of conf/, as a plain dict."""
    return yaml.safe_load((config_dir() / path).read_text())


def tensorboard_logger(save_dir: str) -> Any:
    """The logger a user gets from ``logger=tensorboard`` (conf/logger/tensorboard.yaml)."""
    return instantiate({**conf("logger/tensorboard.yaml"), "save_dir": save_dir})


class AutomaticClassifier(pl.LightningModule):
    """Lightning's automatic optimization on the same network and optimizer: training_step
    returns the loss, Lightning runs backward, step and zero_grad. Logs as the mixin does."""

    def __init__(self, net: torch.nn.Module, optimizer: dict[str, Any]) -> None:
        super().__init__()
        self.net = net
        self.optimizer_config = optimizer

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        x, y = batch
        logits = self.net(x)
        loss = F.cross_entropy(logits, y)
        every = self.trainer.log_every_n_steps
        if every > 0 and (self.global_step + 1) % every == 0:  # the mixin's logging steps
            accuracy = (logits.argmax(dim=1) == y).float().mean()
            self.log("train/loss", loss.detach(), prog_bar=True, batch_size=len(y))
            self.log("lr", float(self.optimizers().param_groups[0]["lr"]), batch_size=len(y))
            self.log("train/acc", accuracy, prog_bar=True, batch_size=len(y))
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return build_optimizer(self.parameters(), self.optimizer_config)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def warmup_steps(log_every_n_steps: int) -> int:
    """Optimizer steps before the timed epoch: through the first logging step."""
    return log_every_n_steps + 1 if log_every_n_steps > 0 else 10


def raw_epoch(
    net: torch.nn.Module, optimizer_config: dict, x: Tensor, y: Tensor, warmup: int
) -> float:
    """The plainest PyTorch loop: ``warmup`` steps, then one epoch; returns the epoch's seconds."""
    optimizer = build_optimizer(net.parameters(), optimizer_config)
    net.train()
    for timed in (False, True):
        synchronize(x.device)
        start = time.perf_counter()
        order = torch.randperm(len(x), device=x.device)
        for i in range(0, len(x) if timed else warmup * BATCH, BATCH):
            index = order[i : i + BATCH]
            optimizer.zero_grad()
            loss = F.cross_entropy(net(x[index]), y[index])
            loss.backward()
            optimizer.step()
        synchronize(x.device)
    return time.perf_counter() - start


class WarmupLoader(TensorBatchLoader):
    """The training loader, with a first epoch of only ``warmup_batches`` batches."""

    warmup_batches = 1

    def __iter__(self):
        batches = super().__iter__()
        return (
            itertools.islice(batches, self.warmup_batches) if self.sampler.epoch == 0 else batches
        )


class BenchData(SyntheticImagesDataModule):
    """Generated MNIST-shaped data whose first epoch is the warm-up."""

    warmup_batches = 1

    def train_dataloader(self) -> WarmupLoader:
        loader = super().train_dataloader()
        loader.__class__ = WarmupLoader
        loader.warmup_batches = self.warmup_batches
        return loader


class EpochTimer(pl.Callback):
    """Seconds of the last training epoch, from its first hook to its last."""

    def __init__(self) -> None:
        self.started = 0.0
        self.seconds = 0.0

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        synchronize(pl_module.device)
        self.started = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        synchronize(pl_module.device)
        self.seconds = time.perf_counter() - self.started


def lightning_epoch(
    module: pl.LightningModule,
    splits: dict[str, tuple[Tensor, ...]],
    steps_per_batch: int,
    log_every_n_steps: int,
    accelerator: str,
) -> float:
    """The warm-up, then one timed epoch of ``module`` in a pl.Trainer with bp_app's TensorBoard
    logger and the progress bar off; returns the epoch's seconds."""
    data = BenchData(
        num_train=len(splits["train"][0]), batch_size=BATCH, steps_per_batch=steps_per_batch
    )
    data.splits = splits  # generated once; setup() keeps them
    data.warmup_batches = -(-warmup_steps(log_every_n_steps) // steps_per_batch)
    timer = EpochTimer()
    with tempfile.TemporaryDirectory() as tmp:
        trainer = pl.Trainer(
            accelerator=accelerator,
            devices=1,
            max_epochs=2,  # the warm-up, then the timed epoch
            logger=tensorboard_logger(tmp),
            callbacks=[timer],
            log_every_n_steps=log_every_n_steps,
            enable_progress_bar=False,
            enable_model_summary=False,
            enable_checkpointing=False,
            limit_val_batches=0,
            num_sanity_val_steps=0,
        )
        trainer.fit(module, datamodule=data)
    return timer.seconds
