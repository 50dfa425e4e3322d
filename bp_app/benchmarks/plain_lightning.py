"""The seed MLP as a Lightning user would write it: a LightningModule, DataLoaders, pl.Trainer's
defaults (TensorBoard logger, checkpointing, progress bar, model summary). The whole-run
benchmark's second reference.

    python -m bp_app.benchmarks.plain_lightning --root DIR --epochs 3 --record clock.json
"""

from __future__ import annotations

import argparse

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from bp_app.benchmarks.raw_script import read_idx
from bp_app.benchmarks.run_clock import FitClock


class PlainMLP(pl.LightningModule):
    """784-128-10, Adam, automatic optimization: training_step returns the loss."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        self.log("train/loss", loss)
        return loss

    def evaluate(self, batch, stage: str) -> None:
        x, y = batch
        logits = self(x)
        self.log(f"{stage}/loss", nn.functional.cross_entropy(logits, y))
        self.log(f"{stage}/acc", (logits.argmax(1) == y).float().mean())

    def validation_step(self, batch, batch_idx):
        self.evaluate(batch, "val")

    def test_step(self, batch, batch_idx):
        self.evaluate(batch, "test")

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--val-size", type=int, default=5000, help="as data.val_size")
    parser.add_argument("--record", required=True, help="JSON file for the fit clock")
    parser.add_argument("--out", default="lightning_logs", help="Trainer's default_root_dir")
    args = parser.parse_args()
    raw = f"{args.root}/MNIST/raw"
    x = read_idx(f"{raw}/train-images-idx3-ubyte", 16).view(-1, 784).float() / 255
    y = read_idx(f"{raw}/train-labels-idx1-ubyte", 8).long()
    x_test = read_idx(f"{raw}/t10k-images-idx3-ubyte", 16).view(-1, 784).float() / 255
    y_test = read_idx(f"{raw}/t10k-labels-idx1-ubyte", 8).long()
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    val, train = order[: args.val_size], order[args.val_size :]
    mean, std = x[train].mean(), x[train].std()
    x, x_test = (x - mean) / std, (x_test - mean) / std

    pl.seed_everything(42)
    train_loader = DataLoader(TensorDataset(x[train], y[train]), batch_size=128, shuffle=True)
    val_loader = DataLoader(TensorDataset(x[val], y[val]), batch_size=1024)
    test_loader = DataLoader(TensorDataset(x_test, y_test), batch_size=1024)
    trainer = pl.Trainer(
        max_epochs=args.epochs, default_root_dir=args.out, callbacks=[FitClock(args.record)]
    )
    trainer.fit(PlainMLP(), train_loader, val_loader)
    trainer.test(dataloaders=test_loader, ckpt_path="best")


if __name__ == "__main__":
    main()
