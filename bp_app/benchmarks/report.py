"""bp-bench's targets and its printed table, both read from the JSON report."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bp_app.benchmarks import optimizers, startup, threads, whole_run

# name -> (the section it reads, the figure must be at most this, how to read it)
TARGETS: dict[str, tuple[str, float, Callable[[dict[str, Any]], float]]] = {
    "epoch mlp: mixin / raw": ("epoch", 1.15, lambda e: e["mlp"]["ratios"]["mixin/raw"]["ratio"]),
    "epoch cnn: mixin / raw": ("epoch", 1.05, lambda e: e["cnn"]["ratios"]["mixin/raw"]["ratio"]),
    "epoch mlp: mixin / automatic": (
        "epoch", 1.0, lambda e: e["mlp"]["ratios"]["mixin/automatic"]["ratio"],
    ),
    "epoch cnn: mixin / automatic": (
        "epoch", 1.0, lambda e: e["cnn"]["ratios"]["mixin/automatic"]["ratio"],
    ),
    "explicit optimizers / torch.optim, multi-tensor (largest)": (
        "optimizers", 1.0, lambda o: o["max_ratio"],
    ),
    "peak memory, bp-train digits MLP (MB)": (
        "time_to_accuracy", 1536, lambda t: t["mlp"]["peak_rss_mb"],
    ),
    "whole run: bp-train / plain Lightning": (
        "whole_run", 0.8, lambda w: w["ratios"]["bp_train/lightning"],
    ),
    "whole run: bp-train / raw script": ("whole_run", 1.8, lambda w: w["ratios"]["bp_train/raw"]),
    "default callbacks + logger / fit + test without": (
        "whole_run", 0.15, lambda w: w["ratios"]["callbacks_cost"],
    ),
    "threads: auto / faster of 1 and torch's (worst)": (
        "threads", 1.10, lambda t: t["max_ratio"],
    ),
    "commands that do not train / import torch (worst)": (
        "startup", 0.5, lambda s: s["max_ratio"],
    ),
}  # fmt: skip


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target whose section the report holds, with its measured value and whether it is met."""
    rows = []
    for name, (section, limit, read) in TARGETS.items():
        if report.get(section):
            value = read(report[section])
            rows.append({"name": name, "value": value, "target": limit, "met": value <= limit})
    # One per model: explicit / autograd, each with its own target (MLP 1.0 ... recurrent 3.0).
    for model, r in (report.get("backprop") or {}).get("results", {}).items():
        limit = r.get("target", 1.0)
        name = f"hand-derived backward / autograd: {model}"
        rows.append(
            {"name": name, "value": r["ratio"], "target": limit, "met": r["ratio"] <= limit}
        )
    return rows


def epoch_table(report: dict[str, Any]) -> list[str]:
    lines = []
    for name, e in report["epoch"].items():
        ms, ratios = e["ms_per_step"], e["ratios"]
        lines.append(
            f"{name}: {e['samples']:,} samples, batch {e['batch_size']}, {e['repeats']} "
            f"repetitions; mixin with steps_per_batch={e['steps_per_batch']}, "
            f"log_every_n_steps={e['log_every_n_steps']}"
        )
        lines.append(f"  {'variant':<11} {'ms/step':>8} {'/ raw':>6}  per-repetition range")
        for variant, value in ms.items():
            if variant == "raw":
                lines.append(f"  {variant:<11} {value:>8.3f} {1:>6.2f}")
                continue
            r = ratios[f"{variant}/raw"]
            low, high = r["range"]
            lines.append(f"  {variant:<11} {value:>8.3f} {r['ratio']:>6.2f}  {low:.2f}-{high:.2f}")
        r = ratios["mixin/automatic"]
        lines.append(
            f"  mixin / automatic {r['ratio']:.2f} ({r['range'][0]:.2f}-{r['range'][1]:.2f}); "
            f"mixin_k1 / automatic {ratios['mixin_k1/automatic']['ratio']:.2f}"
        )
    return lines


def backprop_table(report: dict[str, Any]) -> list[str]:
    lines = [f"  {'model':<26} {'explicit':>9} {'autograd':>9} {'ratio':>6}"]
    for key, r in report["backprop"]["results"].items():
        lines.append(
            f"  {key:<26} {r['explicit_ms']:>9.3f} {r['autograd_ms']:>9.3f} {r['ratio']:>6.2f}"
        )
    return lines


def time_to_accuracy_table(report: dict[str, Any]) -> list[str]:
    lines = []
    for model, r in report["time_to_accuracy"].items():
        if r["reached"]:
            reached = (
                f"val/acc {r['val_acc']:.3f} >= {r['threshold']} after {r['seconds']:.1f} s "
                f"({r['fit_seconds']:.1f} s of fit, {r['epochs']} epochs, {r['steps']} steps)"
            )
        else:
            reached = f"val/acc {r['threshold']} not reached in {r['max_epochs']} epoch(s)"
        lines.append(f"  {model}: {reached}; peak RSS {r['peak_rss_mb']:.0f} MB")
    return lines


# section -> (its heading, its lines)
SECTION_TABLES: dict[str, tuple[str, Callable[[dict[str, Any]], list[str]]]] = {
    "epoch": ("1-2. Training epoch, MNIST-shaped generated data, Adam", epoch_table),
    "optimizers": (
        "3. Explicit optimizers / torch.optim (median ms per step)",
        lambda r: optimizers.table_lines(r["optimizers"]),
    ),
    "backprop": (
        "4. Hand-derived backward / autograd, batch 128 (median ms per gradient)",
        backprop_table,
    ),
    "time_to_accuracy": (
        "5. Time to accuracy: bp-train data=digits (seconds from process start)",
        time_to_accuracy_table,
    ),
    "whole_run": (
        "6. Whole run, separate processes, seed MLP on MNIST-format files (median seconds)",
        lambda r: whole_run.table_lines(r["whole_run"]),
    ),
    "threads": (
        "7. trainer.threads: one MLP epoch in the mixin (median ms per step)",
        lambda r: threads.table_lines(r["threads"]),
    ),
    "startup": (
        "8. Commands that do not train, fresh processes (median seconds)",
        lambda r: startup.table_lines(r["startup"]),
    ),
}


def table(report: dict[str, Any]) -> str:
    """The report as text: one block per measurement, then the targets."""
    m = report["machine"]
    where = m["gpu"] or f"{m['cpu']}, {m['torch_threads']} torch thread(s)"
    smoke = report["mode"] == "smoke"
    lines = [
        f"bp-bench ({report['mode']}) {report['date']} on {m['host']}: {where}",
        f"torch {m['torch']}, pytorch-lightning {m['pytorch_lightning']}, {m['device']}",
        *(["(smoke sizes: a check that it runs; its figures mean nothing)"] * smoke),
    ]
    for section, (heading, lines_of) in SECTION_TABLES.items():
        if report.get(section):
            lines += ["", heading, *lines_of(report)]
    lines += ["", "Targets"]
    for t in report["targets"]:
        verdict = "met" if t["met"] else "NOT met"
        lines.append(f"  {t['name']:<58} {t['value']:>8.2f} <= {t['target']:<6} {verdict}")
    return "\n".join(lines)
