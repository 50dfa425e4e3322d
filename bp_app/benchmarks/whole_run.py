"""The whole run, as a user pays for it: one process from start to exit, three ways.

    raw        the plainest PyTorch script (bp_app.benchmarks.raw_script)
    lightning  the same MLP as a plain LightningModule with pl.Trainer's defaults and DataLoaders
               (bp_app.benchmarks.plain_lightning)
    bp_train   ``bp-train data=mnist model=mlp`` with its defaults: callbacks, TensorBoard,
               checkpoints and metrics.json all on (the progress bar too)
    bp_bare    the same with ``callbacks=none logger=none``: what the defaults cost

Each runs as a separate process on the same MNIST-format IDX files (generated: random pixels, so
the figures need no download), for the same epochs. The variants take turns in a rotating order;
every figure is a ratio of medians. Each process also records when fit started and when its test
ended (bp_app.benchmarks.run_clock), which splits its time into start-up and fit + test.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

VARIANTS = ("raw", "lightning", "bp_train", "bp_bare")
CLOCK = "bp_app.benchmarks.run_clock.FitClock"


def write_mnist(root: Path, train: int, test: int) -> None:
    """Random MNIST-format IDX files (uint8 28x28 images, labels 0-9) in root/MNIST/raw."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", train), ("t10k", test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(
            np.array([2051, n, 28, 28], dtype=">i4").tobytes() + images.tobytes()
        )
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(
            np.array([2049, n], dtype=">i4").tobytes() + labels.tobytes()
        )


def command(variant: str, root: Path, epochs: int, work: Path, record: Path) -> list[str]:
    """The variant's command line (validation: 5,000 training images, as data=mnist keeps)."""
    images = (root / "MNIST" / "raw" / "train-images-idx3-ubyte").stat().st_size - 16
    val_size = min(5000, images // 784 // 10)
    if variant in ("raw", "lightning"):
        module = "raw_script" if variant == "raw" else "plain_lightning"
        extra = ["--out", str(work / "lightning_logs")] if variant == "lightning" else []
        return [
            *(sys.executable, "-m", f"bp_app.benchmarks.{module}", "--root", str(root)),
            *("--epochs", str(epochs), "--record", str(record), "--val-size", str(val_size)),
            *extra,
        ]
    bare = ["callbacks=none", "logger=none"] if variant == "bp_bare" else []
    return [
        *(
            sys.executable,
            "-m",
            "bp_app.train",
            "data=mnist",
            "model=mlp",
            f"paths.data_dir={root}",
        ),
        *(f"trainer.max_epochs={epochs}", "resume=never", f"hydra.run.dir={work / 'run'}"),
        f"data.val_size={val_size}",
        *bare,
        f"+callbacks.fit_clock._target_={CLOCK}",
        f"+callbacks.fit_clock.record={record}",
    ]


def run_once(variant: str, root: Path, epochs: int, env: dict[str, str]) -> dict[str, float]:
    """One process of ``variant``: its wall-clock seconds, split into start-up and fit + test."""
    with tempfile.TemporaryDirectory() as tmp:
        work, record = Path(tmp), Path(tmp) / "clock.json"
        started = time.time()
        done = subprocess.run(
            command(variant, root, epochs, work, record),
            cwd=tmp, env=env, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        seconds = time.time() - started
        if done.returncode != 0 or not record.exists():
            raise RuntimeError(
                f"whole run {variant} failed:\n{(done.stdout + done.stderr)[-3000:]}"
            )
        clock = json.loads(record.read_text())
    return {
        "process_s": seconds,
        "startup_s": clock["fit_started"] - started,
        "fit_test_s": clock["finished"] - clock["fit_started"],
    }


def run(train: int, test: int, epochs: int, repeats: int, threads: int = 1) -> dict[str, Any]:
    """Every variant ``repeats`` times, interleaved; medians and the ratios of the issue."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}  # the same threads in every process
    times: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_mnist(root, train, test)
        for repeat in range(repeats):
            shift = repeat % len(VARIANTS)
            for variant in VARIANTS[shift:] + VARIANTS[:shift]:
                times[variant].append(run_once(variant, root, epochs, env))
    medians = {
        v: {key: statistics.median(t[key] for t in runs) for key in runs[0]}
        for v, runs in times.items()
    }
    process = {v: m["process_s"] for v, m in medians.items()}
    fit = {v: m["fit_test_s"] for v, m in medians.items()}
    return {
        "train_samples": train,
        "test_samples": test,
        "epochs": epochs,
        "repeats": repeats,
        "threads": threads,
        "medians": medians,
        "ratios": {
            "bp_train/lightning": process["bp_train"] / process["lightning"],
            "bp_train/raw": process["bp_train"] / process["raw"],
            "callbacks_cost": fit["bp_train"] / fit["bp_bare"] - 1,
        },
    }


def table_lines(report: dict[str, Any]) -> list[str]:
    lines = [
        f"  {report['train_samples']:,} training / {report['test_samples']:,} test images, "
        f"{report['epochs']} epoch(s), {report['repeats']} repetitions, "
        f"OMP_NUM_THREADS={report['threads']}",
        f"  {'variant':<10} {'process s':>10} {'start-up s':>11} {'fit+test s':>11}",
    ]
    for variant, m in report["medians"].items():
        lines.append(
            f"  {variant:<10} {m['process_s']:>10.2f} {m['startup_s']:>11.2f} "
            f"{m['fit_test_s']:>11.2f}"
        )
    r = report["ratios"]
    lines.append(
        f"  bp-train / plain Lightning {r['bp_train/lightning']:.2f}; bp-train / raw script "
        f"{r['bp_train/raw']:.2f}; default callbacks and logger cost "
        f"{100 * r['callbacks_cost']:.0f} % of fit + test"
    )
    return lines
