"""Step time of bp_app's written-out optimizers against torch.optim, each in both forms.

    python -m bp_app.benchmarks.optimizers [--quick] [--device cpu|cuda]

Each optimizer runs with its conf/optimizer/<name>.yaml hyperparameters on two parameter sets
with fixed random gradients: the seed lecture's MLP (784-128-10) and a CNN-sized set (a 32-filter
3x3 conv, dense 5408-128 and 128-10), in four variants: bp_app's and torch.optim's multi-tensor
form (foreach=True) and per-tensor form (foreach=False). The variants take turns, repetition by
repetition, so load on a shared machine hits all alike; each ratio is of medians, bp_app's form
over torch.optim's same form. ``ratio`` is the multi-tensor one: bp_app's default on every device.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import torch
import yaml

from bp_app.config import config_dir
from bp_app.optim.factory import build_optimizer

OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")
TARGET_RATIO = 1.0  # explicit / torch.optim, multi-tensor, on the CPU (issue 17; GPU: 1.05)
# variant -> (impl, foreach)
VARIANTS = {
    "explicit": ("explicit", True),
    "torch": ("torch", True),
    "explicit_per_tensor": ("explicit", False),
    "torch_per_tensor": ("torch", False),
}

# Parameter shapes: weights and biases of each layer.
PARAMETER_SETS: dict[str, list[tuple[int, ...]]] = {
    "mlp": [(128, 784), (128,), (10, 128), (10,)],
    "cnn": [(32, 1, 3, 3), (32,), (128, 5408), (128,), (10, 128), (10,)],
}


def optimizer_config(name: str) -> dict:
    """The hyperparameters users get from ``optimizer=<name>``."""
    return yaml.safe_load((config_dir() / "optimizer" / f"{name}.yaml").read_text())


def make_parameters(shapes: list[tuple[int, ...]], device: str) -> list[torch.nn.Parameter]:
    """Parameters with fixed random values and gradients (the same for every call)."""
    generator = torch.Generator().manual_seed(0)
    params = []
    for shape in shapes:
        p = torch.nn.Parameter(torch.randn(shape, generator=generator).to(device))
        p.grad = torch.randn(shape, generator=generator).to(device) * 1e-2
        params.append(p)
    return params


def timer(optimizer: torch.optim.Optimizer, steps: int, device: str) -> Callable[[], float]:
    """A function that runs ``steps`` updates and returns the seconds per update."""

    def run() -> float:
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(steps):
            optimizer.step()
        if device == "cuda":
            torch.cuda.synchronize()
        return (time.perf_counter() - start) / steps

    return run


def measure(name: str, shapes: list[tuple[int, ...]], repeats: int, steps: int, device: str):
    """Median seconds per step of each variant, interleaved (the order turns every repeat)."""
    config = optimizer_config(name)
    runs = {
        variant: timer(
            build_optimizer(
                make_parameters(shapes, device), {**config, "impl": impl, "foreach": foreach}
            ),
            steps,
            device,
        )
        for variant, (impl, foreach) in VARIANTS.items()
    }
    for run in runs.values():
        run()  # warm-up: allocates the state, fills caches
    times: dict[str, list[float]] = {variant: [] for variant in runs}
    order = list(runs)
    for repeat in range(repeats):
        for variant in order[repeat % len(order) :] + order[: repeat % len(order)]:
            times[variant].append(runs[variant]())
    return {variant: statistics.median(values) for variant, values in times.items()}


def run(quick: bool, device: str = "cpu", threads: int | None = 1) -> dict:
    """Explicit / torch.optim step-time ratios per parameter set and optimizer.

    ``threads``: torch's intra-op threads during the run (None keeps the current setting). One
    thread by default: on a shared CPU, idle threads' spin-waits swamp a millisecond step.
    """
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _run(quick, device)
    finally:
        torch.set_num_threads(previous)


def _run(quick: bool, device: str) -> dict:
    repeats, steps = (7, 10) if quick else (31, 40)
    results = {}
    for set_name, shapes in PARAMETER_SETS.items():
        for name in OPTIMIZERS:
            medians = measure(name, shapes, repeats, steps, device)
            results[f"{set_name}/{name}"] = {
                **{f"{variant}_ms": seconds * 1e3 for variant, seconds in medians.items()},
                "ratio": medians["explicit"] / medians["torch"],
                "per_tensor_ratio": medians["explicit_per_tensor"] / medians["torch_per_tensor"],
            }
    ratios = [r["ratio"] for r in results.values()]
    return {
        "device": device,
        "threads": torch.get_num_threads(),
        "repeats": repeats,
        "steps_per_repeat": steps,
        "target_ratio": TARGET_RATIO,
        "max_ratio": max(ratios),
        "results": results,
    }


def table_lines(report: dict) -> list[str]:
    """One row per set/optimizer: ms per step of each variant, and both forms' ratios."""
    lines = [
        "  multi-tensor (foreach): explicit / torch.optim; per-tensor: the same, foreach=False",
        f"  {'set/optimizer':<16} {'explicit':>9} {'torch':>8} {'ratio':>6}"
        f" {'per-tensor':>11} {'torch':>8} {'ratio':>6}",
    ]
    for key, r in report["results"].items():
        lines.append(
            f"  {key:<16} {r['explicit_ms']:>9.3f} {r['torch_ms']:>8.3f} {r['ratio']:>6.2f}"
            f" {r['explicit_per_tensor_ms']:>11.3f} {r['torch_per_tensor_ms']:>8.3f}"
            f" {r['per_tensor_ratio']:>6.2f}"
        )
    return lines


def table(report: dict) -> str:
    lines = table_lines(report)
    lines.append(f"max ratio {report['max_ratio']:.2f} (target <= {report['target_ratio']})")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args()
    report = run(args.quick, args.device, args.threads)
    print(json.dumps(report, indent=2) if args.json else table(report))


if __name__ == "__main__":
    main()
