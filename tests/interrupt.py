"""Test callbacks that interrupt a run at a chosen batch, and a bitwise checkpoint comparison.

Added through the config like any callback: ``+callbacks.crash._target_=tests.interrupt.CrashAt``.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytorch_lightning as pl
import torch


class Interrupted(RuntimeError):
    """The crash a test asked for."""


class CrashAt(pl.Callback):
    """Raise ``Interrupted`` at batch ``batch`` of epoch ``epoch``.

    hook: ``batch_start`` raises before the step begins (between steps); ``before_update`` raises
    inside the step, after its backward and before its update.
    """

    def __init__(self, epoch: int, batch: int, hook: str = "batch_start") -> None:
        self.epoch, self.batch, self.hook = epoch, batch, hook
        self.batch_idx = -1

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: Any, batch: Any, i: int) -> None:
        self.batch_idx = i
        if self.hook == "batch_start" and self.due(trainer):
            raise Interrupted(f"crash before epoch {self.epoch} batch {self.batch}")

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: Any, optimizer: Any) -> None:
        if self.hook == "before_update" and self.due(trainer):
            raise Interrupted(f"crash inside epoch {self.epoch} batch {self.batch}")

    def due(self, trainer: pl.Trainer) -> bool:
        return trainer.current_epoch == self.epoch and self.batch_idx == self.batch


class SigtermAt(pl.Callback):
    """Send this process SIGTERM (what docker stop sends) after global step ``step``;
    ``name=SIGINT`` sends what Ctrl-C sends instead."""

    def __init__(self, step: int, name: str = "SIGTERM") -> None:
        self.step, self.signum = step, signal.Signals[name]

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), self.signum)


class CtrlCJobAt(pl.Callback):
    """On global rank 0 after global step ``step``: SIGINT to the whole process group, as a
    terminal's Ctrl-C reaches every process of the job in the foreground."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        if trainer.is_global_zero and trainer.global_step == self.step:
            os.killpg(os.getpgrp(), signal.SIGINT)


def training_state(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """What must match bitwise after an exact resume."""
    return {
        "state_dict": checkpoint["state_dict"],
        "optimizer_states": checkpoint["optimizer_states"],
        "lr_schedulers": checkpoint.get("lr_schedulers", []),
        "global_step": checkpoint["global_step"],
        "epoch": checkpoint["epoch"],
    }


def differences(a: Any, b: Any, where: str = "") -> list[str]:
    """Paths at which two nested containers of tensors and plain values differ (bitwise)."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        same = isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and torch.equal(a, b)
        return [] if same else [where]
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f"{where} keys"]
        return [d for k in a for d in differences(a[k], b[k], f"{where}.{k}")]
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return [f"{where} length"]
        pairs = enumerate(zip(a, b, strict=True))
        return [d for i, (x, y) in pairs for d in differences(x, y, f"{where}[{i}]")]
    return [] if a == b else [where]


class PoisonAt(pl.Callback):
    """Write NaN into the first layer's gradient (after the backward) or weight (just before the
    update, so the update keeps it) in each batch of ``batches`` (counted from 0 over the run;
    the same as the global step while no update is skipped)."""

    def __init__(self, batches: list[int], target: str = "gradient") -> None:
        self.batches, self.target = set(batches), target
        self.batch = -1

    def on_train_batch_start(self, *args: Any) -> None:
        self.batch += 1

    def on_after_backward(self, trainer: pl.Trainer, pl_module: Any) -> None:
        if self.target == "gradient" and self.batch in self.batches:
            next(pl_module.parameters()).grad[0, 0] = float("nan")

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: Any, optimizer: Any) -> None:
        if self.target == "parameter" and self.batch in self.batches:
            with torch.no_grad():
                next(pl_module.parameters())[0, 0] = float("nan")


class SlowSteps(pl.Callback):
    """Sleep ``seconds`` after every training step, so that a signal sent from outside lands
    mid-training; it draws no random numbers and changes no value."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def on_train_batch_end(self, *args: Any) -> None:
        time.sleep(self.seconds)
