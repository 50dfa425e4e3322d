"""trainer.threads: the seed MLP's training epoch with ``auto``, 1 and torch's default threads,
on a quiet machine and beside a competing process that keeps one core busy.

Each setting trains the mixin in a pl.Trainer (bp_app.benchmarks.loops.lightning_epoch) on
generated MNIST-shaped data; the settings take turns in a rotating order, and each figure is a
median. ``auto`` is what bp-train would pick at that moment (bp_app.runs.threads.auto_threads,
asked while the load runs). Target: auto is at most 10 % slower than the faster of the others.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import Any

import torch

from bp_app.benchmarks.epochs import build_model, generated_splits
from bp_app.benchmarks.loops import BATCH, conf, lightning_epoch
from bp_app.runs.threads import auto_threads

TARGET = 1.10
SPIN = "while True: pass"  # one core busy, as another user's job would keep it


def torch_default_threads() -> int:
    """The threads torch starts with when OMP_NUM_THREADS is not set (asked of a fresh process)."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    query = "import torch; print(torch.get_num_threads())"
    return int(subprocess.check_output([sys.executable, "-c", query], env=env, text=True))


@contextmanager
def competing_load(on: bool):
    """A process spinning on one core while the block runs (nothing when ``on`` is false)."""
    process = subprocess.Popen([sys.executable, "-c", SPIN]) if on else None
    try:
        if process:
            time.sleep(0.5)  # let it take its core
        yield
    finally:
        if process:
            process.kill()
            process.wait()


def measure(counts: dict[str, int], samples: int, repeats: int) -> dict[str, float]:
    """Median seconds of one MLP epoch per setting, the settings interleaved."""
    optimizer = conf("optimizer/adam.yaml")
    splits = generated_splits(samples, torch.device("cpu"))
    every = int(conf("trainer/default.yaml")["log_every_n_steps"])
    k = int(conf("data/mnist.yaml").get("steps_per_batch", 1))
    times: dict[str, list[float]] = {name: [] for name in counts}
    names = list(counts)
    for repeat in range(repeats):
        for name in names[repeat % len(names) :] + names[: repeat % len(names)]:
            torch.set_num_threads(counts[name])
            times[name].append(
                lightning_epoch(build_model("mlp", optimizer), splits, k, every, "cpu")
            )
    return {name: statistics.median(t) for name, t in times.items()}


def run(samples: int, repeats: int) -> dict[str, Any]:
    """Both conditions: the threads each setting used, ms per step, auto / the best other."""
    previous = torch.get_num_threads()
    default = torch_default_threads()
    steps = -(-samples // BATCH)
    report: dict[str, Any] = {"samples": samples, "repeats": repeats, "target": TARGET}
    try:
        for condition in ("quiet", "loaded"):
            with competing_load(condition == "loaded"):
                counts = {"auto": auto_threads(), "one": 1, "torch_default": default}
                seconds = measure(counts, samples, repeats)
            best_other = min(seconds["one"], seconds["torch_default"])
            report[condition] = {
                "threads": counts,
                "ms_per_step": {name: s / steps * 1e3 for name, s in seconds.items()},
                "auto/best_other": seconds["auto"] / best_other,
            }
    finally:
        torch.set_num_threads(previous)
    report["max_ratio"] = max(report[c]["auto/best_other"] for c in ("quiet", "loaded"))
    return report


def table_lines(report: dict[str, Any]) -> list[str]:
    lines = [f"  {'condition':<10} {'setting':<14} {'threads':>7} {'ms/step':>8}"]
    for condition in ("quiet", "loaded"):
        r = report[condition]
        for name, ms in r["ms_per_step"].items():
            lines.append(f"  {condition:<10} {name:<14} {r['threads'][name]:>7} {ms:>8.3f}")
        ratio = r["auto/best_other"]
        lines.append(f"  {condition:<10} auto / the faster of 1 and torch's default: {ratio:.2f}")
    return lines
