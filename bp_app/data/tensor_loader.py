"""Mini-batches of in-memory tensors by index slices: one gather per batch, no per-sample calls."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor


class EpochShuffle:
    """The epoch's permutation. Lightning calls ``set_epoch`` on a loader's ``sampler`` each epoch,
    so the order differs per epoch yet is reproducible from (seed, epoch), also after a resume."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def permutation(self, n: int) -> Tensor:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return torch.randperm(n, generator=generator)


class TensorBatchLoader:
    """Iterates over aligned tensors (inputs, targets, ...) in batches of ``batch_size`` rows.

    Under DDP each rank takes every ``world_size``-th index of the same permutation, so the ranks
    see disjoint shards whose union is the epoch (as DistributedSampler does, without padding).
    """

    def __init__(
        self,
        tensors: tuple[Tensor, ...],
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        drop_last: bool = False,
        rank: int = 0,
        world_size: int = 1,
        collate: Callable[[tuple[Tensor, ...]], Any] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        sizes = {len(t) for t in tensors}
        if len(sizes) != 1:
            raise ValueError(f"tensors must have the same number of rows, got {sorted(sizes)}")
        self.tensors = tensors
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.rank = rank
        self.world_size = world_size
        self.collate = collate
        self.sampler = EpochShuffle(seed)
        self.batch_sampler = None  # Lightning inspects DataLoader-like attributes; batching is ours
        self._yielded = 0  # batches handed out in the current epoch
        self._resume: dict[str, int] | None = None  # a mid-epoch checkpoint's position

    @property
    def num_samples(self) -> int:
        """Rows this rank sees in one epoch."""
        n = len(self.tensors[0])
        return len(range(self.rank, n, self.world_size))

    def __len__(self) -> int:
        if self.drop_last:
            return self.num_samples // self.batch_size
        return -(-self.num_samples // self.batch_size)

    def state_dict(self) -> dict[str, int]:
        """Where the epoch stands; Lightning saves it in checkpoints (the loader has a length, so
        its fetcher reads no batch ahead: every batch handed out has been trained on)."""
        return {"epoch": self.sampler.epoch, "batches_done": self._yielded}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Continue the saved epoch where it stopped: the same permutation, the batches left."""
        self._resume = dict(state)

    def __iter__(self) -> Iterator[Any]:
        n = len(self.tensors[0])
        sharded = self.world_size > 1
        if self.shuffle or sharded:
            order = self.sampler.permutation(n) if self.shuffle else torch.arange(n)
            order = order[self.rank :: self.world_size].to(self.tensors[0].device)
        first = 0
        if self._resume is not None and self._resume["epoch"] == self.sampler.epoch:
            first = self._resume["batches_done"]  # an end-of-epoch checkpoint skips nothing new
        self._resume = None
        self._yielded = first
        for batch_index in range(first, len(self)):
            start = batch_index * self.batch_size
            stop = start + self.batch_size
            if self.shuffle or sharded:
                index = order[start:stop]
                batch = tuple(t[index] for t in self.tensors)
            else:
                batch = tuple(t[start:stop] for t in self.tensors)  # views, no copy
            self._yielded += 1
            yield self.collate(batch) if self.collate else batch
