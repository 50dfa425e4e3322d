"""What a finished search leaves in its sweep directory: best.yaml, the pictures, the epoch count.

best.yaml is a primary Hydra config built on conf/train.yaml, so the best trial trains again with

    bp-train -cd <sweep dir> -cn best
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import FrozenTrial, TrialState

from bp_app.runs.layout import BEST_FILE, HISTORY_PNG, IMPORTANCE_PNG

log = logging.getLogger(__name__)

OVERRIDES_ATTR = "overrides"  # the trial's searched overrides, as the sweeper launched them


@dataclass(frozen=True)
class EpochCount:
    """Epochs the finished trials trained, against what they would have without pruning."""

    trained: int
    budget: int

    @property
    def saved_share(self) -> float:
        return 1.0 - self.trained / self.budget if self.budget else 0.0

    def line(self, trials: int) -> str:
        return (
            f"epochs trained {self.trained} of {self.budget} without pruning ({trials} trials): "
            f"pruning saved {self.budget - self.trained} epochs ({100 * self.saved_share:.1f} %)"
        )


def count_epochs(trials: list[FrozenTrial]) -> EpochCount:
    trained = sum(int(t.user_attrs.get("epochs", 0)) for t in trials)
    budget = sum(int(t.user_attrs.get("max_epochs", 0)) for t in trials)
    return EpochCount(trained, budget)


def best_config(trial: FrozenTrial, overrides: list[str], metric: str, sweep_dir: Path) -> str:
    """best.yaml's text: the best trial's overrides as a config on top of conf/train.yaml."""
    groups: list[dict[str, str]] = []
    values: dict[str, Any] = {}
    for override in overrides:
        key, _, text = override.partition("=")
        value = yaml.safe_load(text) if text else None
        if "." in key or key in ("seed", "optimized_metric", "task_name"):
            node = values
            *parents, leaf = key.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
        else:  # a config group: optimizer=adam
            groups.append({f"override {key}": text})
    head = [
        f"# The best trial ({trial.number}) of the search in {sweep_dir}: "
        f"{metric} = {trial.value:.6g}",
        f"# Train it again: bp-train -cd {sweep_dir} -cn best",
        f"# or with overrides: bp-train {' '.join(overrides)}",
    ]
    body = {"defaults": ["train", *groups, "_self_"], **values}
    return "\n".join(head) + "\n" + yaml.safe_dump(body, sort_keys=False)


def write_results(
    study: optuna.Study, finished: list[FrozenTrial], sweep_dir: Path, metric: str
) -> None:
    """Print and write the best trial, the epoch count and the two pictures."""
    complete = [t for t in finished if t.state == TrialState.COMPLETE]
    if not complete:
        print(f"bp-train search: no trial completed in {sweep_dir}; nothing to report")
        return
    best = study.best_trial
    overrides = best.user_attrs.get(OVERRIDES_ATTR) or [f"{k}={v}" for k, v in best.params.items()]
    (sweep_dir / BEST_FILE).write_text(best_config(best, overrides, metric, sweep_dir))
    pruned = sum(t.state == TrialState.PRUNED for t in finished)
    print(f"bp-train search: best trial {best.number}: {metric} = {best.value:.6g}")
    print(f"  overrides: {' '.join(overrides)}")
    print(f"  {len(finished)} finished: {len(complete)} complete, {pruned} pruned")
    print(f"  {count_epochs(finished).line(len(finished))}")
    print(f"  wrote {sweep_dir / BEST_FILE}")
    draw_pictures(study, sweep_dir)


def draw_pictures(study: optuna.Study, sweep_dir: Path) -> None:
    """Optuna's matplotlib history and importance plots as PNGs (importances need 2 trials)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as optuna_plots

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        axes = optuna_plots.plot_optimization_history(study)
        save(axes.figure, sweep_dir / HISTORY_PNG)
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if len(complete) < 2:
            log.info("Parameter importances need 2 complete trials; %d so far", len(complete))
            return
        axes = optuna_plots.plot_param_importances(study)
        save(axes.figure, sweep_dir / IMPORTANCE_PNG)
    plt.close("all")


def save(figure: Any, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    print(f"  wrote {path}")
