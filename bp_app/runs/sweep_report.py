"""A sweep stopped by one job says which jobs never ran, and how to run them (issue 22).

Hydra's basic launcher runs a sweep's jobs one after another in this process. A job that ends
with a user error (exit 2), Ctrl-C (130) or SIGTERM (143) ends the whole process, so the jobs
after it never run, and Hydra says nothing of them. ``SweepReport`` (a Hydra callback,
conf/train.yaml) expands the sweep when it starts, as the basic sweeper does, and notes each job
as it starts; ``report_jobs_not_run`` (bp-train's main, as the process ends) prints the jobs
after the one that stopped it, each as the command that runs it.
"""

from __future__ import annotations

import shlex
import sys
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
BASIC_LAUNCHER = "hydra._internal.core_plugins.basic_launcher.BasicLauncher"

# The sweep's jobs (each its override strings) and the number of the job running now.
_sweep: dict[str, Any] = {"jobs": None, "running": None}


def expand_sweep(config: DictConfig) -> list[list[str]] | None:
    """The override lists of the jobs the basic sweeper runs, in its order; None for another
    sweeper (Optuna's trials are not known in advance), another launcher (jobs in other
    processes), or a sweep that needs the config loader to expand (``glob(...)``)."""
    hydra = config.hydra
    if hydra.sweeper.get("_target_") != BASIC_SWEEPER:
        return None
    if hydra.launcher.get("_target_") != BASIC_LAUNCHER:
        return None
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    params = hydra.sweeper.get("params") or {}
    arguments = [f"{key}={value}" for key, value in params.items()]  # as the sweeper reads them
    arguments += list(hydra.overrides.task)
    try:
        overrides = OverridesParser.create().parse_overrides(arguments)
        batches = BasicSweeper.split_arguments(overrides, None)
    except Exception:  # noqa: BLE001 - Hydra will say what is wrong with the sweep itself
        return None
    return [list(job) for batch in batches for job in batch]


class SweepReport(Callback):
    """Hydra callback: remember the sweep's jobs and which one runs (see the module doc)."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        _sweep["jobs"], _sweep["running"] = expand_sweep(config), None

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        if _sweep["jobs"] is not None:
            _sweep["running"] = int(config.hydra.job.num)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        _sweep["jobs"], _sweep["running"] = None, None


def jobs_not_run() -> list[list[str]]:
    """The jobs after the one running now ([] outside a sweep)."""
    jobs, running = _sweep["jobs"], _sweep["running"]
    if not jobs or running is None:
        return []
    return jobs[running + 1 :]


def report_jobs_not_run(command: str = "bp-train") -> None:
    """On stderr: the job that stopped the sweep, and a command for each job that never ran."""
    left = jobs_not_run()
    if not left:
        return
    running, total = _sweep["running"], len(_sweep["jobs"])
    stopped = " ".join(_sweep["jobs"][running])
    lines = [
        f"{command}: the sweep stopped at job #{running} ({stopped}); {len(left)} of its "
        f"{total} jobs never ran. Fix the cause, then run each of them with:"
    ]
    lines += [f"  {command} {' '.join(shlex.quote(o) for o in job)}" for job in left]
    print("\n".join(lines), file=sys.stderr)
