"""bp-bench's targets and its printed table, both read from the JSON report."""

from __future__ import annotations

from typing import Any

# name -> the figure must be at most this (issue 11)
TARGETS = {
    "epoch mlp: mixin / raw": 1.15,
    "epoch cnn: mixin / raw": 1.05,
    "epoch mlp: mixin / automatic": 1.0,
    "epoch cnn: mixin / automatic": 1.0,
    "explicit optimizers / torch.optim (largest)": 1.25,
    "peak memory, bp-train digits MLP (MB)": 1536,
}


def figures(report: dict[str, Any]) -> dict[str, float]:
    epoch = report["epoch"]
    return {
        "epoch mlp: mixin / raw": epoch["mlp"]["ratios"]["mixin/raw"]["ratio"],
        "epoch cnn: mixin / raw": epoch["cnn"]["ratios"]["mixin/raw"]["ratio"],
        "epoch mlp: mixin / automatic": epoch["mlp"]["ratios"]["mixin/automatic"]["ratio"],
        "epoch cnn: mixin / automatic": epoch["cnn"]["ratios"]["mixin/automatic"]["ratio"],
        "explicit optimizers / torch.optim (largest)": report["optimizers"]["max_ratio"],
        "peak memory, bp-train digits MLP (MB)": report["time_to_accuracy"]["mlp"]["peak_rss_mb"],
    }


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with its measured value and whether it is met."""
    values = figures(report)
    rows = [
        {"name": name, "value": values[name], "target": limit, "met": values[name] <= limit}
        for name, limit in TARGETS.items()
    ]
    # One per model: explicit / autograd, each with its own target (MLP 1.0 ... recurrent 3.0).
    for model, r in report["backprop"]["results"].items():
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


def table(report: dict[str, Any]) -> str:
    """The report as text: one block per measurement, then the targets."""
    m = report["machine"]
    where = m["gpu"] or f"{m['cpu']}, {m['torch_threads']} torch thread(s)"
    smoke = report["mode"] == "smoke"
    lines = [
        f"bp-bench ({report['mode']}) {report['date']} on {m['host']}: {where}",
        f"torch {m['torch']}, pytorch-lightning {m['pytorch_lightning']}, {m['device']}",
        *(["(smoke sizes: a check that it runs; its figures mean nothing)"] * smoke),
        "",
        "1-2. Training epoch, MNIST-shaped generated data, Adam (median ms per step)",
        *epoch_table(report),
        "",
        "3. Explicit optimizers / torch.optim (median ms per step)",
    ]
    lines.append(f"  {'set/optimizer':<16} {'explicit':>9} {'torch':>8} {'ratio':>6}")
    for key, r in report["optimizers"]["results"].items():
        lines.append(
            f"  {key:<16} {r['explicit_ms']:>9.3f} {r['torch_ms']:>8.3f} {r['ratio']:>6.2f}"
        )
    lines += ["", "4. Hand-derived backward / autograd, batch 128 (median ms per gradient)"]
    lines.append(f"  {'model':<26} {'explicit':>9} {'autograd':>9} {'ratio':>6}")
    for key, r in report["backprop"]["results"].items():
        lines.append(
            f"  {key:<26} {r['explicit_ms']:>9.3f} {r['autograd_ms']:>9.3f} {r['ratio']:>6.2f}"
        )
    lines += ["", "5. Time to accuracy: bp-train data=digits (seconds from process start)"]
    for model, r in report["time_to_accuracy"].items():
        if r["reached"]:
            reached = (
                f"val/acc {r['val_acc']:.3f} >= {r['threshold']} after {r['seconds']:.1f} s "
                f"({r['fit_seconds']:.1f} s of fit, {r['epochs']} epochs, {r['steps']} steps)"
            )
        else:
            reached = f"val/acc {r['threshold']} not reached in {r['max_epochs']} epoch(s)"
        lines.append(f"  {model}: {reached}; peak RSS {r['peak_rss_mb']:.0f} MB")
    lines += ["", "Targets"]
    for t in report["targets"]:
        verdict = "met" if t["met"] else "NOT met"
        lines.append(f"  {t['name']:<46} {t['value']:>8.2f} <= {t['target']:<6} {verdict}")
    return "\n".join(lines)
