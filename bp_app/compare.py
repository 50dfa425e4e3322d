"""bp-compare: draw the runs of one sweep side by side, from their TensorBoard event files.

    bp-train -m experiment=compare_optimizers
    bp-compare outputs/multirun/<time>

writes ``<sweep dir>/compare_val_loss.png``: the validation loss of every run against training
steps and against wall-clock time, or, when the runs differ in their descent mode, against
training examples seen (batch, stochastic and mini-batch descent all see N per epoch but update
1, N and N / B times). When the runs differ in their penalty it also writes
``compare_regularization.png``: the weights' magnitudes and sparsity against λ.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from bp_app.errors import ConfigError, user_errors
from bp_app.optim.penalty_report import compare_penalties, penalty_summary
from bp_app.runs.layout import CONFIG_FILE, TENSORBOARD_DIR, hydra_file


@dataclass
class Curve:
    """One run's metric: its label, and per point the step, seconds since start and epoch."""

    label: str
    run_dir: Path
    steps: list[int]
    seconds: list[float]
    epochs: list[int]
    values: list[float]
    descent: str | None = None


def event_dirs(sweep: Path) -> list[Path]:
    """The folders below ``sweep`` that hold TensorBoard event files, one per run."""
    return sorted({p.parent for p in sweep.rglob("events.out.tfevents.*")}, key=run_order)


def run_order(tb_dir: Path) -> tuple[int, str]:
    """Hydra's job number first (0_..., 1_..., 10_...), then the name."""
    name = run_root(tb_dir).name
    match = re.match(r"(\d+)(_|$)", name)  # 3_optimizer=sgd, or 3 (a search trial)
    return (int(match.group(1)) if match else 10**9, name)


def run_root(tb_dir: Path) -> Path:
    """The run directory: the event files' folder, or its parent when it is ``tensorboard/``."""
    return tb_dir.parent if tb_dir.name == TENSORBOARD_DIR else tb_dir


def run_label(tb_dir: Path) -> str:
    """'0_optimizer=sgd' -> 'optimizer=sgd': the overrides that tell the runs apart; a sweep
    over experiments (left out of folder names) shows each run's task_name instead."""
    name = run_root(tb_dir).name
    label = re.sub(r"^\d+_", "", name)
    if not label:
        config = read_config(run_root(tb_dir))
        label = str(OmegaConf.select(config, "task_name", default="")) if config else ""
    return label or name


def read_curve(tb_dir: Path, metric: str) -> Curve | None:
    """The metric's points from a run's event files, or None when the run never logged it."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tb_dir), size_guidance={"scalars": 0})
    events.Reload()
    tags = events.Tags()["scalars"]
    if metric not in tags:
        return None
    points = in_training_order(events.Scalars(metric))
    # Lightning logs the epoch beside every logged metric, at the same step.
    epoch_at = {e.step: int(e.value) for e in events.Scalars("epoch")} if "epoch" in tags else {}
    start = events.FirstEventTimestamp()  # the writer's creation, when fitting starts
    config = read_config(run_root(tb_dir))
    return Curve(
        label=run_label(tb_dir),
        run_dir=run_root(tb_dir),
        steps=[p.step for p in points],
        seconds=[p.wall_time - start for p in points],
        epochs=[epoch_at.get(p.step, -1) for p in points],
        values=[p.value for p in points],
        descent=OmegaConf.select(config, "descent.mode") if config is not None else None,
    )


def in_training_order(points: list) -> list:
    """Drop points logged out of step order: bp-train's final hparams record repeats the last
    metrics at step 0."""
    kept = []
    for point in points:
        if not kept or point.step >= kept[-1].step:
            kept.append(point)
    return kept


def read_config(run_dir: Path):
    path = hydra_file(run_dir, CONFIG_FILE)
    return OmegaConf.load(path) if path.is_file() else None


def train_size(run_dir: Path) -> int | None:
    """N, the run's training examples, from its data config (None when it cannot be read)."""
    config = read_config(run_dir)
    if config is None or OmegaConf.select(config, "data._target_") is None:
        return None
    try:
        from hydra.utils import instantiate

        data = instantiate(config.data, _convert_="all")
        data.setup("fit")
        return len(data.splits["train"][0])
    except Exception:  # data moved or not in memory: fall back to epochs on the x axis
        return None


def examples_axis(curves: list[Curve]) -> tuple[list[list[float]], str]:
    """x = examples seen when a validation point ends epoch e: (e + 1) · N."""
    sizes = [train_size(c.run_dir) for c in curves]
    if any(size is None for size in sizes):
        return [[e + 1 for e in c.epochs] for c in curves], "epochs (passes over the training set)"
    return [
        [(e + 1) * n for e in c.epochs] for c, n in zip(curves, sizes, strict=True)
    ], "training examples seen"


def plot_panels(
    curves: list[Curve],
    progress: list[list[float]],
    progress_label: str,
    metric: str,
    sweep: Path,
    out: Path,
) -> None:
    """Two panels side by side: the metric against progress and against wall time."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6), sharey=True)
    for curve, xs in zip(curves, progress, strict=True):
        style = {"marker": "o", "markersize": 3, "linewidth": 1.6, "label": curve.label}
        left.plot(xs, curve.values, **style)
        right.plot(curve.seconds, curve.values, **style)
    left.set_xlabel(progress_label)
    right.set_xlabel("wall-clock time (s)")
    left.set_ylabel(metric)
    if all(v > 0 for c in curves for v in c.values):
        left.set_yscale("log")  # early losses are large: a log scale keeps the tails readable
    for axis in (left, right):
        axis.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=9)
    fig.suptitle(f"{metric} of each run in {sweep}", fontsize=11)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def summary(curves: list[Curve], metric: str) -> str:
    width = max(len(c.label) for c in curves)
    lines = [f"{'run':<{width}}  {'final ' + metric:>16}  {'lowest':>8}  {'time (s)':>8}"]
    for c in curves:
        final, best = c.values[-1], min(c.values)
        lines.append(f"{c.label:<{width}}  {final:>16.4f}  {best:>8.4f}  {c.seconds[-1]:>8.1f}")
    return "\n".join(lines)


def compare(sweep: Path, metric: str = "val/loss", x_axis: str = "auto", out: Path | None = None):
    """Plot every run of ``sweep``; return the PNG's path and the curves."""
    if not sweep.is_dir():
        raise ConfigError(f"{sweep} is not a directory: pass a sweep directory of bp-train -m")
    dirs = event_dirs(sweep)
    curves = [c for c in (read_curve(d, metric) for d in dirs) if c is not None]
    if not curves:
        raise ConfigError(
            f"no run under {sweep} logged {metric!r} to TensorBoard: pass the directory of a "
            "sweep (bp-train -m ... logger=tensorboard), e.g. outputs/multirun/<time>"
        )
    if x_axis == "auto":
        x_axis = "examples" if len({c.descent for c in curves}) > 1 else "step"
    name = metric.replace("/", "_")
    out = out or sweep / f"compare_{name}.png"
    if x_axis == "examples":
        progress, progress_label = examples_axis(curves)
    else:
        progress, progress_label = [c.steps for c in curves], "training step"
    plot_panels(curves, progress, progress_label, metric, sweep, out)
    return out, curves


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bp-compare", description=__doc__.split("\n")[0])
    parser.add_argument("sweep", type=Path, help="a sweep directory written by bp-train -m")
    parser.add_argument("--metric", default="val/loss", help="the scalar to plot (val/loss)")
    parser.add_argument(
        "--x",
        choices=["auto", "step", "examples"],
        default="auto",
        help="progress axis: examples seen when the runs' descent modes differ (auto)",
    )
    parser.add_argument("--out", type=Path, help="the PNG to write (<sweep>/compare_<metric>.png)")
    args = parser.parse_args(argv)
    with user_errors("bp-compare"):
        out, curves = compare(args.sweep, args.metric, args.x, args.out)
    print(summary(curves, args.metric))
    print(f"bp-compare: wrote {out}")
    # A sweep over penalties also gets the weights' picture (bp_app/optim/penalty_report.py).
    runs = [(c.run_dir, c.label) for c in curves]
    penalties = compare_penalties(runs, args.sweep / "compare_regularization.png")
    if penalties:
        print(penalty_summary(penalties))
        print(f"bp-compare: wrote {args.sweep / 'compare_regularization.png'}")


if __name__ == "__main__":
    main()
