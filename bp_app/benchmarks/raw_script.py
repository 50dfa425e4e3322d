"""The plainest PyTorch script for the seed MLP on MNIST: the whole-run benchmark's baseline.

    python -m bp_app.benchmarks.raw_script --root DIR --epochs 3 --record clock.json

Reads the four IDX files in DIR/MNIST/raw, keeps 5,000 training images for validation, trains
784-128-10 with Adam (batch 128) for the epochs, validates after each, tests once. No logging,
no checkpoints: what a user would write by hand, and what bp-train is measured against.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bp_app.benchmarks.clock_file import write_clock


def read_idx(path: str | Path, header_bytes: int) -> torch.Tensor:
    """An IDX file's values as uint8 (MNIST: 16 header bytes for images, 8 for labels)."""
    return torch.from_numpy(np.fromfile(path, dtype=np.uint8, offset=header_bytes))


def accuracy(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        hits = sum(
            (net(x[i : i + 1024]).argmax(1) == y[i : i + 1024]).sum()
            for i in range(0, len(x), 1024)
        )
    return float(hits) / len(x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--val-size", type=int, default=5000, help="as data.val_size")
    parser.add_argument("--record", required=True, help="JSON file for the fit clock")
    args = parser.parse_args()
    raw = Path(args.root) / "MNIST" / "raw"
    x = read_idx(raw / "train-images-idx3-ubyte", 16).view(-1, 784).float() / 255
    y = read_idx(raw / "train-labels-idx1-ubyte", 8).long()
    x_test = read_idx(raw / "t10k-images-idx3-ubyte", 16).view(-1, 784).float() / 255
    y_test = read_idx(raw / "t10k-labels-idx1-ubyte", 8).long()
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    val, train = order[: args.val_size], order[args.val_size :]
    mean, std = x[train].mean(), x[train].std()
    x, x_test = (x - mean) / std, (x_test - mean) / std
    x_train, y_train, x_val, y_val = x[train], y[train], x[val], y[val]

    torch.manual_seed(42)
    net = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    started = time.time()
    for epoch in range(args.epochs):
        perm = torch.randperm(len(x_train))
        for i in range(0, len(x_train), 128):
            index = perm[i : i + 128]
            loss = nn.functional.cross_entropy(net(x_train[index]), y_train[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print(f"epoch {epoch}: val acc {accuracy(net, x_val, y_val):.4f}")
    print(f"test acc {accuracy(net, x_test, y_test):.4f}")
    write_clock(args.record, started, time.time())


if __name__ == "__main__":
    main()
