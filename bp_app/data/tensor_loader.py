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


class StepGroup:
    """Consecutive mini-batches handed to Lightning as one batch (``steps_per_batch`` > 1): the
    training step makes one optimizer step per mini-batch, so Lightning's per-batch work (hooks,
    progress tracking, fetching) is paid once per group instead of once per step.

    Iterating gathers each mini-batch just before its step takes it, so its rows are still in the
    CPU's cache when the step reads them, as in a plain loop (gathering the whole group at once
    was slower on the seed MLP).
    """

    def __init__(self, take: Callable[[int, int], Any], bounds: list[tuple[int, int]]) -> None:
        self.take = take  # (start, stop) -> the mini-batch of those rows of the epoch's order
        self.bounds = bounds
        self.device: torch.device | None = None

    def __len__(self) -> int:
        return len(self.bounds)

    def __iter__(self) -> Iterator[Any]:
        for start, stop in self.bounds:
            yield self.take(start, stop, self.device)

    @property
    def num_samples(self) -> int:
        return sum(stop - start for start, stop in self.bounds)

    def to(self, device: torch.device | str, **kwargs: Any) -> StepGroup:
        """Lightning moves each batch with ``.to``: the mini-batches move as they are taken."""
        self.device = torch.device(device)
        return self


def batch_samples(batch: Any) -> int:
    """Examples in a Lightning batch: a (inputs, targets, ...) tuple or a StepGroup of them."""
    if isinstance(batch, StepGroup):
        return batch.num_samples
    return len(batch[0]) if isinstance(batch, (tuple, list)) else len(batch)


class TensorBatchLoader:
    """Iterates over aligned tensors (inputs, targets, ...) in batches of ``batch_size`` rows.

    Under DDP each rank takes every ``world_size``-th index of the same permutation, so the ranks
    see disjoint shards whose union is the epoch (as DistributedSampler does, without padding).
    With ``steps_per_batch`` = k > 1 it yields StepGroups of k mini-batches (the last one may be
    shorter): the same mini-batches in the same order, gathered with one index per group.
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
        steps_per_batch: int = 1,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if steps_per_batch < 1:
            raise ValueError(f"steps_per_batch must be >= 1, got {steps_per_batch}")
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
        self.steps_per_batch = steps_per_batch
        self.sampler = EpochShuffle(seed)
        self.batch_sampler = None  # Lightning inspects DataLoader-like attributes; batching is ours
        self._yielded = 0  # mini-batches handed out in the current epoch
        self.last_batch_start = 0  # the mini-batch the last handed-out batch began with
        self._resume: dict[str, int] | None = None  # a mid-epoch checkpoint's position

    @property
    def num_samples(self) -> int:
        """Rows this rank sees in one epoch."""
        n = len(self.tensors[0])
        return len(range(self.rank, n, self.world_size))

    @property
    def num_mini_batches(self) -> int:
        """Mini-batches (optimizer steps in mini-batch descent) in one epoch on this rank."""
        if self.drop_last:
            return self.num_samples // self.batch_size
        return -(-self.num_samples // self.batch_size)

    def __len__(self) -> int:
        """Batches Lightning sees per epoch: mini-batches, or StepGroups of them."""
        return -(-self.num_mini_batches // self.steps_per_batch)

    def state_dict(self) -> dict[str, int]:
        """Where the epoch stands, in mini-batches; Lightning saves it in checkpoints (the loader
        has a length, so its fetcher reads no batch ahead: each batch handed out was trained on)."""
        return {"epoch": self.sampler.epoch, "batches_done": self._yielded}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Continue the saved epoch where it stopped: the same permutation, the batches left."""
        self._resume = dict(state)

    def rewind(self, mini_batches: int) -> None:
        """The last ``mini_batches`` handed out were not trained on (training stopped inside a
        StepGroup at max_steps): a checkpoint must resume at them."""
        self._yielded -= mini_batches

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

        def take(start: int, stop: int, device: torch.device | None = None) -> Any:
            """Rows [start, stop) of this epoch's order: one gather, or views when unshuffled."""
            if self.shuffle or sharded:
                index = order[start:stop]
                rows = tuple(t[index] for t in self.tensors)
            else:
                rows = tuple(t[start:stop] for t in self.tensors)  # views, no copy
            if device is not None and rows[0].device != device:
                rows = tuple(t.to(device, non_blocking=True) for t in rows)
            return self.collate(rows) if self.collate else rows

        batch_size, total, k = self.batch_size, self.num_mini_batches, self.steps_per_batch
        begin = first
        while begin < total:
            # Groups are the epoch's mini-batches [jk, (j+1)k). A checkpoint taken after
            # max_steps cut a group short resumes inside it; Lightning counted that group as done,
            # so its rest rides with the next group and the epoch keeps Lightning's batch count.
            end = min((begin // k + 1 + (begin % k > 0)) * k, total)
            bounds = [
                (i * batch_size, min((i + 1) * batch_size, self.num_samples))
                for i in range(begin, end)
            ]
            self.last_batch_start, self._yielded = begin, end
            begin = end
            yield take(*bounds[0]) if k == 1 else StepGroup(take, bounds)
