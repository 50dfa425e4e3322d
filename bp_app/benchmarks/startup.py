"""Commands that do not train: how long each takes against ``python -c "import torch"``.

``bp-train --help``, ``--cfg job``, a misspelled key, a value out of range, an unknown option and
``bp-eval`` with a missing checkpoint each run as a fresh process, interleaved with the torch
import, in a rotating order; each figure is median seconds, and the ratio is over the median of
the torch imports measured in the same run. Target: each at most 0.5.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

TARGET = 0.5
# name -> (module, arguments, the exit status it must end with)
COMMANDS: dict[str, tuple[str, list[str], int]] = {
    "bp-train --help": ("bp_app.train", ["--help"], 0),
    "bp-train --cfg job": ("bp_app.train", ["--cfg", "job"], 0),
    "misspelled key": ("bp_app.train", ["+model.hiden_sizes=[3]"], 2),
    "value out of range": ("bp_app.train", ["optimizer.lr=-1"], 2),
    "unknown option": ("bp_app.train", ["model=mlpp"], 1),
    "bp-eval, no checkpoint": ("bp_app.evaluate", ["ckpt_path=missing.ckpt"], 2),
}
IMPORT_TORCH = ("-c", "import torch")


def seconds(argv: list[str], status: int, cwd: str) -> float:
    """Wall-clock seconds of one process, which must exit with ``status``."""
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=os.environ.copy())
    elapsed = time.perf_counter() - started
    if done.returncode != status:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return elapsed


def run(repeats: int) -> dict[str, Any]:
    """Median seconds of each command and of the torch import; ratios to the import."""
    runs = {"import torch": ([sys.executable, *IMPORT_TORCH], 0)}
    runs |= {name: ([sys.executable, "-m", m, *args], s) for name, (m, args, s) in COMMANDS.items()}
    times: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(repeats):
            for name in names[repeat % len(names) :] + names[: repeat % len(names)]:
                times[name].append(seconds(*runs[name], cwd=tmp))
    medians = {name: statistics.median(t) for name, t in times.items()}
    torch_s = medians["import torch"]
    ratios = {name: medians[name] / torch_s for name in COMMANDS}
    return {
        "repeats": repeats,
        "seconds": medians,
        "ratios": ratios,
        "max_ratio": max(ratios.values()),
        "target": TARGET,
    }


def table_lines(report: dict[str, Any]) -> list[str]:
    s = report["seconds"]
    lines = [f"  {'command':<24} {'seconds':>8} {'/ import torch':>15}"]
    lines.append(f"  {'python -c import torch':<24} {s['import torch']:>8.2f} {1:>15.2f}")
    for name, ratio in report["ratios"].items():
        lines.append(f"  {name:<24} {s[name]:>8.2f} {ratio:>15.2f}")
    return lines
