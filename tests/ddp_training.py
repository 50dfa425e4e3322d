"""Training code shared by the DDP equivalence test and the ranks it starts."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from pytorch_lightning.strategies import DDPStrategy
from torch import Tensor

from bp_app.data.in_memory import InMemoryDataModule
from bp_app.data.tensor_loader import TensorBatchLoader
from bp_app.models.mlp import MLPClassifier
from tests.conftest import quiet_trainer

WORLD_SIZE = 2
EPOCHS = 3  # batch descent makes one update per epoch: three updates
TRAIN_ROWS = 16  # 8 per rank: 2 mini-batches of 4, 8 stochastic steps, 2 chunks for batch GD


@dataclass(frozen=True)
class Case:
    """One training configuration: the optimizer and descent groups as bp-train composes them."""

    name: str
    optimizer: dict[str, Any]
    descent: dict[str, Any]
    rank_batch_size: int
    model: dict[str, Any] = field(default_factory=dict)
    steps_per_batch: int = 1  # data.steps_per_batch: the ranks' loaders group mini-batches


def tiny_tensors() -> dict[str, tuple[Tensor, Tensor]]:
    generator = torch.Generator().manual_seed(7)
    x = torch.randn(TRAIN_ROWS + 8, 1, 4, 4, generator=generator)  # (N, C, H, W)
    y = torch.randint(0, 3, (TRAIN_ROWS + 8,), generator=generator)
    held_out = (x[TRAIN_ROWS:], y[TRAIN_ROWS:])
    return {"train": (x[:TRAIN_ROWS], y[:TRAIN_ROWS]), "val": held_out, "test": held_out}


class TinyData(InMemoryDataModule):
    """16 random 4x4 images; InMemoryDataModule shards them by the trainer's rank."""

    def load_splits(self) -> dict[str, tuple[Tensor, ...]]:
        return tiny_tensors()

    def model_inputs(self) -> dict[str, Any]:
        return {"input_shape": [1, 4, 4], "num_classes": 3}


class UnionLoader:
    """One process doing every rank's work: step i's batch is the ranks' i-th batches
    concatenated, with the same per-epoch shuffle (Lightning calls ``sampler.set_epoch``)."""

    def __init__(self, tensors: tuple[Tensor, ...], batch_size: int, seed: int) -> None:
        self.shards = [
            TensorBatchLoader(
                tensors, batch_size, shuffle=True, seed=seed, rank=r, world_size=WORLD_SIZE
            )
            for r in range(WORLD_SIZE)
        ]
        assert len({len(s) for s in self.shards}) == 1, "ranks must take equal steps"
        self.sampler = self  # set_epoch below forwards the epoch to every shard
        self.batch_size = batch_size * WORLD_SIZE
        self.num_samples = sum(s.num_samples for s in self.shards)  # batch descent's N

    def set_epoch(self, epoch: int) -> None:
        for shard in self.shards:
            shard.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.shards[0])

    def __iter__(self):
        for parts in zip(*self.shards, strict=True):
            yield tuple(torch.cat(columns) for columns in zip(*parts, strict=True))


def make_model(case: Case) -> MLPClassifier:
    torch.manual_seed(0)  # the same initial weights in every process
    return MLPClassifier(
        input_shape=[1, 4, 4],
        num_classes=3,
        hidden_sizes=[8],
        optimizer=case.optimizer,
        descent=case.descent,
        **case.model,
    )


def trainer_options() -> dict[str, Any]:
    return dict(max_epochs=EPOCHS, limit_val_batches=0, num_sanity_val_steps=0)


def parameters(model: torch.nn.Module) -> dict[str, Tensor]:
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def train_one_process(case: Case) -> tuple[dict[str, Tensor], dict[str, Tensor], int]:
    """The reference: one process on the union of the ranks' batches. (initial, final, steps)"""
    model = make_model(case)
    initial = parameters(model)
    trainer = quiet_trainer(devices=1, **trainer_options())
    loader = UnionLoader(tiny_tensors()["train"], case.rank_batch_size, seed=0)
    trainer.fit(model, train_dataloaders=loader)
    return initial, parameters(model), trainer.global_step


def ddp_worker(rank: int, port: int, cases: list[Case], out: str) -> None:
    """One rank: the environment a launcher would set, then every case under Lightning's DDP."""
    torch.set_num_threads(1)  # two ranks share the cores; as DataLoader workers do after fork
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        NODE_RANK="0",
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(WORLD_SIZE),
    )
    results = {}
    for case in cases:
        model = make_model(case)
        # One process group serves every case: Lightning reuses an initialized one.
        strategy = DDPStrategy(process_group_backend="gloo")
        trainer = quiet_trainer(devices=WORLD_SIZE, strategy=strategy, **trainer_options())
        data = TinyData(batch_size=case.rank_batch_size, steps_per_batch=case.steps_per_batch)
        trainer.fit(model, datamodule=data)
        results[case.name] = {"params": parameters(model), "steps": trainer.global_step}
    torch.save(results, Path(out) / f"rank{rank}.pt")
