"""Test callbacks for DDP runs: what each rank drew and ended with; a preemption, a crash or a
killed rank.

Added through the config: ``+callbacks.probe._target_=tests.rank_probes.RankProbe``.
"""

from __future__ import annotations

import io
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


class KillRankAt(pl.Callback):
    """SIGKILL global rank ``rank``'s own process before global step ``step``, on a torchrun
    group's first attempt only (TORCHELASTIC_RESTART_COUNT=0): a node lost mid-epoch, which no
    handler can see. The restarted group runs on. A ``killed_rank<r>_step<k>`` file in
    ``dirpath`` says it happened."""

    def __init__(self, rank: int, step: int, dirpath: str) -> None:
        self.rank, self.step, self.dirpath = rank, step, Path(dirpath)

    def on_train_batch_start(self, trainer: pl.Trainer, *args: Any) -> None:
        first_attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT") == "0"
        if first_attempt and trainer.global_rank == self.rank and trainer.global_step == self.step:
            (self.dirpath / f"killed_rank{self.rank}_step{self.step}").touch()
            os.kill(os.getpid(), signal.SIGKILL)


class PreemptOnceAt(pl.Callback):
    """After global step ``step``, send this process submitit's preemption signal (USR2), as
    submitit's local controller does before a job's time limit and SLURM before a preemption;
    once: a ``preempted_step<k>`` file in ``dirpath`` marks that the first attempt got it."""

    def __init__(self, step: int, dirpath: str) -> None:
        self.step, self.marker = step, Path(dirpath) / f"preempted_step{step}"

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        if trainer.global_step == self.step and not self.marker.exists():
            self.marker.touch()
            os.kill(os.getpid(), signal.SIGUSR2)


class KillDuringSave(pl.Callback):
    """On global rank ``rank``, when last.ckpt is written after global step ``step``: write half
    of its bytes, then SIGKILL the process, as a node lost in the middle of a save."""

    def __init__(self, rank: int, step: int) -> None:
        self.rank, self.step = rank, step

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if trainer.global_rank != self.rank:
            return
        save = torch.save

        def save_half_then_die(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
            if trainer.global_step != self.step or "last.ckpt" not in getattr(f, "name", ""):
                return save(obj, f, *args, **kwargs)
            data = io.BytesIO()
            save(obj, data, *args, **kwargs)
            f.write(data.getvalue()[: len(data.getvalue()) // 2])
            f.flush()
            os.fsync(f.fileno())
            os.kill(os.getpid(), signal.SIGKILL)

        torch.save = save_half_then_die  # this rank's process only; it ends here
