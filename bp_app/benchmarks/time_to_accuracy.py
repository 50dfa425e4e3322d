"""Time to accuracy: how long ``bp-train`` on digits takes to reach a validation accuracy, and the
peak resident memory of that process.

``bp-train model=<mlp|cnn> data=digits`` runs as a subprocess with its default configuration
(checkpoints, TensorBoard, gradient-flow and image callbacks included; progress bar off, no test
run) plus one callback, StopAtAccuracy: after each validation it reads ``val/acc``, and the first
time it reaches the threshold it records the wall-clock time and stops training. The time is
counted from the moment the process is started (imports and data loading included) and also from
the start of fit. The peak resident set size is the process's own high-water mark (VmHWM in
/proc/self/status) at the end of fit: the kernel's figure for a child (``ru_maxrss``) would also
count the benchmark process it was forked from.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl

# model -> validation accuracy to reach (the thresholds for the seed models on digits)
THRESHOLDS = {"mlp": 0.95, "cnn": 0.97}


class StopAtAccuracy(pl.Callback):
    """Records when ``monitor`` first reaches ``threshold`` (in a JSON file), then stops fit."""

    def __init__(self, threshold: float, record: str, monitor: str = "val/acc") -> None:
        self.threshold = threshold
        self.record = Path(record)
        self.monitor = monitor
        self.fit_started = 0.0

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.fit_started = time.time()

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.is_global_zero:
            memory = self.record.with_name("memory.json")
            memory.write_text(json.dumps({"peak_rss_mb": peak_rss_mb()}))

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        value = trainer.callback_metrics.get(self.monitor)
        if trainer.sanity_checking or value is None or float(value) < self.threshold:
            return
        if trainer.is_global_zero and not self.record.exists():
            now = time.time()
            result = {
                "reached_at": now,
                "fit_seconds": now - self.fit_started,
                "epoch": trainer.current_epoch,
                "global_step": trainer.global_step,
                "value": float(value),
            }
            self.record.write_text(json.dumps(result))
        trainer.should_stop = True


def peak_rss_mb() -> float:
    """This process's peak resident memory since it started its program, in MB."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # macOS: bytes


def run_until(
    model: str, threshold: float, max_epochs: int, device: str, threads: int, timeout: float
) -> dict:
    """Start ``bp-train model=<model> data=digits`` and measure it (see the module docstring)."""
    with tempfile.TemporaryDirectory() as tmp:
        record = Path(tmp) / "reached.json"
        command = [
            sys.executable,
            "-m",
            "bp_app.train",
            f"model={model}",
            "data=digits",
            f"trainer.max_epochs={max_epochs}",
            "trainer.enable_progress_bar=false",
            f"trainer.accelerator={'gpu' if device == 'cuda' else 'cpu'}",
            "test=false",
            "resume=never",
            f"hydra.run.dir={Path(tmp) / 'run'}",
            "+callbacks.time_to_accuracy._target_=" + f"{__name__}.StopAtAccuracy",
            f"+callbacks.time_to_accuracy.threshold={threshold}",
            f"+callbacks.time_to_accuracy.record={record}",
        ]
        # The epoch benchmarks' torch threads (OMP_NUM_THREADS is read when torch is imported).
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        started = time.time()
        process = subprocess.Popen(
            command, cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
            output += f"\nbp-bench: stopped after {timeout} s"
        finished = time.time()
        reached = json.loads(record.read_text()) if record.exists() else None
        memory = record.with_name("memory.json")
        peak = json.loads(memory.read_text())["peak_rss_mb"] if memory.exists() else None
    if process.returncode != 0:
        raise RuntimeError(
            f"bp-train model={model} data=digits failed (status {process.returncode}):\n"
            + output[-3000:]
        )
    result: dict[str, Any] = {
        "threshold": threshold,
        "max_epochs": max_epochs,
        "reached": reached is not None,
        "seconds": reached["reached_at"] - started if reached else None,
        "fit_seconds": reached["fit_seconds"] if reached else None,
        "epochs": reached["epoch"] + 1 if reached else None,
        "steps": reached["global_step"] if reached else None,
        "val_acc": reached["value"] if reached else None,
        "process_seconds": finished - started,
        "peak_rss_mb": peak,
    }
    return result


def run(max_epochs: int, device: str, threads: int, timeout: float = 600) -> dict[str, dict]:
    """{model: run_until(...)} for the MLP and the CNN."""
    return {
        model: run_until(model, threshold, max_epochs, device, threads, timeout)
        for model, threshold in THRESHOLDS.items()
    }
