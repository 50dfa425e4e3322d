"""Two runs with the same seed and trainer.deterministic=true give the same metrics.json and the
same weights, bit for bit; another seed gives other weights."""

from __future__ import annotations

from pathlib import Path

import torch

from bp_app.train import train
from tests.conftest import FAST, compose_config
from tests.interrupt import differences

RUN = [
    *FAST,
    "trainer.max_epochs=2",
    "trainer.deterministic=true",
    "logger=none",
    "callbacks.gradient_flow=null",
    "callbacks.image_panels=null",
    "model.dropout=0.3",  # random masks: the seed must reach them
]


def run(tmp_path: Path, name: str, seed: int) -> Path:
    train(compose_config("train", [*RUN, f"seed={seed}"], tmp_path / name))
    return tmp_path / name


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    path = run_dir / "checkpoints" / "last.ckpt"
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def test_same_seed_same_run_other_seed_other_weights(tmp_path):
    first, second, other = (run(tmp_path, n, s) for n, s in (("a", 7), ("b", 7), ("c", 8)))
    assert (first / "metrics.json").read_bytes() == (second / "metrics.json").read_bytes()
    assert not differences(weights(first), weights(second))
    assert differences(weights(first), weights(other))
