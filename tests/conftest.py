"""Shared test helpers: compose the real Hydra config, run the real command-line entry points."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from bp_app.config import config_dir
from bp_app.config.schema import register_schemas
from bp_app.data.in_memory import InMemoryDataModule

REPO = Path(__file__).resolve().parents[1]

# The tests train tiny models: one thread each is as fast as two, and two threads per process
# contending for a busy 2-core machine make small steps many times slower.
ONE_THREAD = {"OMP_NUM_THREADS": "1"}
torch.set_num_threads(1)
# trainer.threads=auto counts idle cores: under a loaded test run two runs of one test could
# pick different counts and differ in the last bit. Subprocesses inherit this too.
os.environ.setdefault("OMP_NUM_THREADS", "1")

# Overrides that make a run take seconds: one short epoch, no progress bar.
FAST = [
    "trainer.max_epochs=1",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "trainer.accelerator=cpu",
]

# Lightning 2.6 rewrites last.ckpt only when a top-k checkpoint is saved (val/loss improved):
# keeping every epoch's checkpoint makes last.ckpt the run's final state.
EVERY_EPOCH = "callbacks.model_checkpoint.save_top_k=-1"


def quiet_trainer(**options: Any) -> pl.Trainer:
    """A CPU Trainer that writes nothing and prints nothing unless ``options`` say otherwise."""
    quiet = {
        "accelerator": "cpu",
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
    }
    return pl.Trainer(**{**quiet, **options})


class RandomImages(InMemoryDataModule):
    """40 random 2x3 images in 4 classes; batch size 3 leaves a short last batch."""

    def load_splits(self):
        generator = torch.Generator().manual_seed(3)
        x = torch.randn(48, 1, 2, 3, generator=generator)
        y = torch.randint(0, 4, (48,), generator=generator)
        return {"train": (x[:40], y[:40]), "val": (x[40:], y[40:]), "test": (x[40:], y[40:])}

    def model_inputs(self):
        return {"input_shape": [1, 2, 3], "num_classes": 4}


@pytest.fixture
def forbid_data_loading(monkeypatch):
    """Make loading the digits fail loudly: config errors must come before any data loads."""

    def no_loading(self):
        raise AssertionError("data was loaded before the config was checked")

    monkeypatch.setattr("bp_app.data.digits.DigitsDataModule.load_splits", no_loading)


def compose_config(name: str, overrides: Sequence[str], run_dir: Path) -> DictConfig:
    """The config ``bp-train`` (or another entry point) would compose, with its run dir set."""
    register_schemas()
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        cfg = compose(
            name,
            overrides=[f"paths.run_dir={run_dir}", *overrides],
            return_hydra_config=True,
        )
    HydraConfig.instance().set_config(cfg)  # so ${hydra:...} interpolations resolve
    return cfg


@pytest.fixture
def train_config(tmp_path: Path):
    """Call as ``train_config([...overrides])``: a train config writing under tmp_path/run."""

    def make(overrides: Sequence[str] = ()) -> DictConfig:
        return compose_config("train", overrides, tmp_path / "run")

    return make


def run_command(
    module: str,
    args: Sequence[str],
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m <module> args`` as a user would run the console script."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **ONE_THREAD, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
