"""backprop=explicit under DDP: 2 gloo ranks end where one process on the union of their batches
ends. Hand-derived gradients bypass DDP's autograd hooks, so the engine all-reduces them itself
(g = (1/R) Σ_r g_r, as DDP does); this test fails if that averaging is wrong or missing.

The CNN runs without batch norm here: batch statistics are per rank under DDP (with autograd too,
unless SyncBatchNorm), so a BN net on 2 ranks is not the one-process net on the union."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from pytorch_lightning.strategies import DDPStrategy

from tests.ddp_training import WORLD_SIZE, UnionLoader, parameters
from tests.explicit_support import MODELS, TinyData, make_model, quiet_trainer
from tests.test_ddp_equivalence import free_port

CASES = {"cnn": {"batch_norm": False}, "sentiment_lstm": {}}
RANK_BATCH, EPOCHS = 4, 2


def build(name: str):
    return make_model(name, backprop="explicit", **CASES[name])


def worker(rank: int, port: int, out: str) -> None:
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), NODE_RANK="0",
                      LOCAL_RANK=str(rank), WORLD_SIZE=str(WORLD_SIZE))  # fmt: skip
    results = {}
    for name in CASES:
        model = build(name)
        trainer = quiet_trainer(
            devices=WORLD_SIZE,
            strategy=DDPStrategy(process_group_backend="gloo"),
            max_epochs=EPOCHS,
        )
        trainer.fit(model, datamodule=TinyData(MODELS[name][0], batch_size=RANK_BATCH))
        results[name] = parameters(model)
    torch.save(results, Path(out) / f"rank{rank}.pt")


@pytest.fixture(scope="module")
def ddp_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("explicit_ddp")
    mp.start_processes(worker, (free_port(), str(out)), nprocs=WORLD_SIZE, start_method="fork")
    return [torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(WORLD_SIZE)]


@pytest.mark.parametrize("name", list(CASES))
def test_explicit_ddp_equals_one_process_on_the_union(name, ddp_results):
    model = build(name)
    initial = parameters(model)
    data = TinyData(MODELS[name][0])
    loader = UnionLoader(data.load_splits()["train"], RANK_BATCH, seed=0)
    quiet_trainer(devices=1, max_epochs=EPOCHS).fit(model, train_dataloaders=loader)
    reference = parameters(model)
    rank0, rank1 = (results[name] for results in ddp_results)
    for key, expected in reference.items():
        assert torch.equal(rank0[key], rank1[key]), key
        assert not torch.equal(expected, initial[key]), f"{key} did not train"
        error = (rank0[key] - expected).abs().max().item()
        assert error <= 1e-6, f"{name} {key}: max |Δ| = {error:.2e}"
