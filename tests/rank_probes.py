"""Test callbacks for DDP runs: what each rank drew and ended with, and a preemption of the job.

Added through the config: ``+callbacks.probe._target_=tests.rank_probes.RankProbe``.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch


class RankProbe(pl.Callback):
    """Per rank, in ``masks_rank<r>.json``: the dropout mask a step will draw (from a copy of the
    torch generator, so nothing is consumed), under ``start<global step>`` when the step begins
    and ``after<global step>`` when the one before it ended; and the final weights in
    ``weights_rank<r>.pt``. A resumed run adds to the same file."""

    def __init__(self, dirpath: str, size: int = 32) -> None:
        self.dirpath, self.size = Path(dirpath), size

    def path(self, trainer: pl.Trainer, name: str) -> Path:
        return self.dirpath / f"{name}_rank{trainer.global_rank}"

    def record(self, trainer: pl.Trainer, key: str) -> None:
        copy = torch.Generator().set_state(torch.get_rng_state())
        mask = (torch.rand(self.size, generator=copy) > 0.5).int().tolist()
        path = self.path(trainer, "masks").with_suffix(".json")
        masks = json.loads(path.read_text()) if path.is_file() else {}
        masks[key] = mask
        path.write_text(json.dumps(masks))

    def on_train_batch_start(self, trainer: pl.Trainer, *args: Any) -> None:
        self.record(trainer, f"start{trainer.global_step}")

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        self.record(trainer, f"after{trainer.global_step}")

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        weights = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}
        torch.save(weights, self.path(trainer, "weights").with_suffix(".pt"))


class SigtermJobAt(pl.Callback):
    """On global rank 0 after global step ``step``: SIGTERM to the whole process group, as a
    scheduler preempting the job does (scancel, docker stop of every container)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        if trainer.is_global_zero and trainer.global_step == self.step:
            os.killpg(os.getpgrp(), signal.SIGTERM)


class RaiseOnRankAt(pl.Callback):
    """Raise on global rank ``rank`` only, before global step ``step``: one rank's crash."""

    def __init__(self, rank: int, step: int) -> None:
        self.rank, self.step = rank, step

    def on_train_batch_start(self, trainer: pl.Trainer, *args: Any) -> None:
        if trainer.global_rank == self.rank and trainer.global_step == self.step:
            raise RuntimeError(f"rank {self.rank} failed before step {self.step}")
