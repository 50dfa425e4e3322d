"""bp-bench: bp_app's speed against a raw PyTorch loop and other references, in one process.

    bp-bench [--quick|--smoke] [--out bench.json] [--device auto|cpu|cuda] [--threads 1]
             [--only epoch,optimizers,backprop,time_to_accuracy,whole_run,threads,startup]

1. training epoch: the mixin in a pl.Trainer / the plainest PyTorch loop (seed MLP and CNN)
2. the mixin / Lightning's automatic optimization, same model
3. bp_app's explicit optimizers / torch.optim, both forms (bp_app.benchmarks.optimizers)
4. the hand-derived backward / autograd              (bp_app.benchmarks.backprop)
5. time to accuracy of ``bp-train`` on digits, and that process's peak memory
6. the whole run: bp-train / a plain Lightning script / a raw script, separate processes
   (bp_app.benchmarks.whole_run), and what the default callbacks and logger cost
7. trainer.threads=auto against 1 thread and torch's default, with and without a competing
   process (bp_app.benchmarks.threads; CPU only)
8. commands that do not train (--help, a config mistake, bp-eval without a checkpoint) against
   ``python -c "import torch"`` (bp_app.benchmarks.startup)

Every figure is a ratio of medians over interleaved repetitions (see each module). Prints a
table and writes the whole report as JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch

from bp_app.benchmarks import backprop, epochs, optimizers, startup, time_to_accuracy, whole_run
from bp_app.benchmarks import threads as threads_bench
from bp_app.benchmarks.report import table, targets

SECTIONS = (
    "epoch",
    "optimizers",
    "backprop",
    "time_to_accuracy",
    "whole_run",
    "threads",
    "startup",
)

# mode -> {model: (training samples, repetitions)} for the epoch comparison
EPOCH_SIZES = {
    "full": {"mlp": (60_000, 9), "cnn": (60_000, 5)},
    "quick": {"mlp": (60_000, 5), "cnn": (6_400, 4)},
    "smoke": {"mlp": (1_280, 1), "cnn": (256, 1)},  # shape only: the test suite's smoke run
}
# mode -> the epochs bp-train may take to reach the accuracy (smoke: the shape of the result)
MAX_EPOCHS = {"full": 200, "quick": 200, "smoke": 1}
# mode -> whole run: (training images, test images, epochs, repetitions); the run is 3
# epochs of MNIST's 60,000 (5,000 of them for validation)
WHOLE_RUN = {
    "full": (60_000, 10_000, 3, 3),
    "quick": (60_000, 10_000, 3, 2),
    "smoke": (600, 100, 1, 1),
}
# mode -> threads: (training samples per epoch, repetitions)
THREADS = {"full": (30_000, 5), "quick": (12_800, 3), "smoke": (640, 1)}
# mode -> start-up: repetitions of each command
STARTUP = {"full": 5, "quick": 3, "smoke": 1}


def machine(device: torch.device, threads: int) -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [
            line.split(":", 1)[1].strip()
            for line in cpuinfo.read_text().splitlines()
            if line.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    return {
        "host": platform.node(),
        "cpu": cpu,
        "cpu_cores": os.cpu_count(),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "device": str(device),
        "torch_threads": threads,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "pytorch_lightning": pl.__version__,
    }


def run(
    mode: str, device: torch.device, threads: int, only: tuple[str, ...] = SECTIONS
) -> dict[str, Any]:
    """The measurements of the module docstring named in ``only``, in order; the report."""
    started = time.perf_counter()
    quick = mode != "full"
    report: dict[str, Any] = {
        "bp_bench": 1,
        "mode": mode,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(device, threads),
    }
    measurements = {
        "epoch": lambda: epochs.run(EPOCH_SIZES[mode], str(device)),
        "optimizers": lambda: optimizers.run(quick, device.type, threads),
        "backprop": lambda: backprop.run(quick, str(device), threads),
        "time_to_accuracy": lambda: time_to_accuracy.run(MAX_EPOCHS[mode], device.type, threads),
        "whole_run": lambda: whole_run.run(*WHOLE_RUN[mode], threads=threads),
        "threads": lambda: threads_row(mode, device),
        "startup": lambda: startup.run(STARTUP[mode]),
    }
    for name in only:
        report[name] = measurements[name]()
    report["targets"] = targets(report)
    report["seconds"] = time.perf_counter() - started
    return report


def threads_row(mode: str, device: torch.device) -> dict[str, Any] | None:
    """The threads measurement on a CPU run (a GPU run's step does not use torch's threads)."""
    if device.type != "cpu":
        return None
    epochs.quiet_lightning()
    return threads_bench.run(*THREADS[mode])


def sections(text: str) -> tuple[str, ...]:
    """--only's comma-separated names, checked."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in SECTIONS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown section {unknown[0] if unknown else text!r}; choose from {','.join(SECTIONS)}"
        )
    return names


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bp-bench", description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="fewer samples and repetitions")
    size.add_argument("--smoke", action="store_true", help="tiny sizes: checks that it runs")
    parser.add_argument("--out", default="bench.json", help="the JSON report (bench.json)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1)")
    parser.add_argument(
        "--only", type=sections, default=SECTIONS, help="comma-separated sections (all)"
    )
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA GPU is visible; use --device cpu")
    cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    device = torch.device("cuda" if cuda else "cpu")
    if args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    report = run(mode, device, args.threads, args.only)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))
    print(f"\nbp-bench: {report['seconds']:.0f} s; report written to {out}")


if __name__ == "__main__":
    main()
