"""In-memory batching: slices, per-epoch shuffles, DDP shards, and mid-epoch resume."""

from __future__ import annotations

import torch

from bp_app.data.tensor_loader import TensorBatchLoader


def rows(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.arange(n).float().unsqueeze(1), torch.arange(n)


def test_batches_cover_the_data_once_with_an_uneven_last_batch():
    loader = TensorBatchLoader(rows(10), batch_size=4)
    sizes = [len(y) for _, y in loader]
    assert sizes == [4, 4, 2] and len(loader) == 3
    assert torch.equal(torch.cat([y for _, y in loader]), torch.arange(10))


def test_shuffle_differs_per_epoch_and_repeats_for_the_same_epoch():
    loader = TensorBatchLoader(rows(32), batch_size=8, shuffle=True, seed=5)
    loader.sampler.set_epoch(0)
    first = torch.cat([y for _, y in loader])
    again = torch.cat([y for _, y in loader])
    loader.sampler.set_epoch(1)
    second = torch.cat([y for _, y in loader])
    assert torch.equal(first, again) and not torch.equal(first, second)
    assert torch.equal(first.sort().values, torch.arange(32))


def test_ddp_shards_are_disjoint_and_cover_the_epoch():
    shards = [
        torch.cat(
            [y for _, y in TensorBatchLoader(rows(11), 3, shuffle=True, rank=r, world_size=2)]
        )
        for r in (0, 1)
    ]
    assert not set(shards[0].tolist()) & set(shards[1].tolist())
    assert sorted(shards[0].tolist() + shards[1].tolist()) == list(range(11))


def test_mid_epoch_state_resumes_with_the_batches_left():
    loader = TensorBatchLoader(rows(20), batch_size=4, shuffle=True, seed=1)
    loader.sampler.set_epoch(3)
    full = [y for _, y in loader]
    iterator = iter(loader)
    done = [next(iterator)[1] for _ in range(2)]
    state = loader.state_dict()
    assert state == {"epoch": 3, "batches_done": 2}

    resumed = TensorBatchLoader(rows(20), batch_size=4, shuffle=True, seed=1)
    resumed.load_state_dict(state)
    resumed.sampler.set_epoch(3)  # Lightning sets the epoch before iterating
    rest = [y for _, y in resumed]
    assert all(torch.equal(a, b) for a, b in zip(done + rest, full, strict=True))
    # The next epoch is whole again.
    resumed.sampler.set_epoch(4)
    assert len(list(resumed)) == 5


def test_end_of_epoch_state_does_not_skip_the_next_epoch():
    loader = TensorBatchLoader(rows(8), batch_size=4, shuffle=True)
    list(loader)
    resumed = TensorBatchLoader(rows(8), batch_size=4, shuffle=True)
    resumed.load_state_dict(loader.state_dict())
    resumed.sampler.set_epoch(1)
    assert len(list(resumed)) == 2
