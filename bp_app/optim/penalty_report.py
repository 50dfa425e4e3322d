"""Pictures of what a penalty does to the weights, from the runs of one sweep.

For each run (its ``checkpoints/last.ckpt`` and ``.hydra/config.yaml``): the kind of penalty,
its strength λ, the magnitudes |w| of the weight matrices and filters, and their sparsity, the
share with |w| < 1e-3. L1's ∂Ω/∂w = λ sign(w) pulls every weight towards 0 by the same amount,
so small weights collect at 0; L2's λw shrinks each in proportion to its size, so few reach it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from omegaconf import OmegaConf

from bp_app.optim.regularization import SPARSITY_THRESHOLD
from bp_app.runs.layout import CONFIG_FILE, hydra_file, last_checkpoint

KIND_COLOURS = {"none": "#57606a", "l1": "#cf222e", "l2": "#0969da", "elastic": "#8250df"}


@dataclass
class PenaltyRun:
    label: str
    kind: str
    strength: float
    magnitudes: np.ndarray  # |w| of every weight (matrices and filters), flattened

    @property
    def sparsity(self) -> float:
        return float((self.magnitudes < SPARSITY_THRESHOLD).mean())


def read_penalty_run(run_dir: Path, label: str) -> PenaltyRun | None:
    """The run's penalty and final weights, or None without a config or last.ckpt."""
    config_path, ckpt = hydra_file(run_dir, CONFIG_FILE), last_checkpoint(run_dir)
    if not (config_path.is_file() and ckpt.is_file()):
        return None
    config = OmegaConf.load(config_path)
    kind = str(OmegaConf.select(config, "regularization.name", default="none"))
    l1 = float(OmegaConf.select(config, "regularization.l1", default=0.0) or 0.0)
    l2 = float(OmegaConf.select(config, "regularization.l2", default=0.0) or 0.0)
    state = torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]
    weights = [t for name, t in state.items() if t.ndim > 1 and not name.endswith("bias")]
    magnitudes = torch.cat([w.abs().flatten().float() for w in weights]).numpy()
    return PenaltyRun(label, "none" if l1 == l2 == 0 else kind, max(l1, l2), magnitudes)


def penalty_figure(runs: list[PenaltyRun]) -> Figure:
    """Left: the |w| histogram of each run (log bins); right: sparsity against λ per kind."""
    figure = Figure(figsize=(12, 4.6), dpi=100)
    left, right = figure.subplots(1, 2)
    smallest = max(1e-7, min(float(r.magnitudes.min()) for r in runs) or 1e-7)
    largest = max(float(r.magnitudes.max()) for r in runs)
    bins = np.logspace(np.log10(smallest), np.log10(largest), 60)
    strengths = sorted({r.strength for r in runs if r.strength > 0})
    for run in runs:
        fade = (
            0.35 + 0.65 * (strengths.index(run.strength) + 1) / len(strengths)
            if (run.strength > 0 and strengths)
            else 1.0
        )
        left.hist(
            np.clip(run.magnitudes, smallest, None),
            bins=bins,
            histtype="step",
            linewidth=1.3,
            color=KIND_COLOURS.get(run.kind, "black"),
            alpha=fade,
            label=f"{run.kind} λ={run.strength:g}",
        )
    left.axvline(SPARSITY_THRESHOLD, color="black", linestyle=":", linewidth=1)
    left.set_xscale("log")
    left.set_xlabel("|w| (weights of every matrix and filter; dotted: the 1e-3 sparsity line)")
    left.set_ylabel("weights")
    left.legend(fontsize=7, ncol=2)
    baseline = [r.sparsity for r in runs if r.kind == "none"]
    for kind in ("l1", "l2", "elastic"):
        points = sorted((r.strength, r.sparsity) for r in runs if r.kind == kind)
        if not points:
            continue
        xs, ys = zip(*points, strict=True)
        right.plot(xs, ys, marker="o", color=KIND_COLOURS[kind], label=kind)
    if baseline:
        right.axhline(baseline[0], color=KIND_COLOURS["none"], linestyle="--", label="none")
    right.set_xscale("log")
    right.set_xlabel("strength λ")
    right.set_ylabel(f"sparsity: share of |w| < {SPARSITY_THRESHOLD:g}")
    right.grid(True, which="both", alpha=0.3)
    right.legend(fontsize=8)
    figure.suptitle("what each penalty does to the weights", fontsize=11)
    figure.tight_layout()
    return figure


def penalty_summary(runs: list[PenaltyRun]) -> str:
    lines = [f"{'penalty':<8} {'λ':>8} {'sparsity':>9} {'median |w|':>11}"]
    for r in sorted(runs, key=lambda r: (r.kind, r.strength)):
        median = float(np.median(r.magnitudes))
        lines.append(f"{r.kind:<8} {r.strength:>8g} {r.sparsity:>9.4f} {median:>11.2e}")
    return "\n".join(lines)


def compare_penalties(run_dirs: list[tuple[Path, str]], out: Path) -> list[PenaltyRun] | None:
    """Draw ``out`` when the sweep's runs differ in their penalty; None when they do not."""
    runs, seen = [], set()
    for run_dir, label in run_dirs:
        run = read_penalty_run(run_dir, label)
        if run is not None and (run.kind, run.strength) not in seen:  # λ = 0 of each kind: once
            seen.add((run.kind, run.strength))
            runs.append(run)
    if len({(r.kind, r.strength) for r in runs}) < 2:
        return None
    from PIL import Image

    from bp_app.callbacks.lecture_figures import render_rgb

    Image.fromarray(render_rgb(penalty_figure(runs))).save(out)
    return runs
