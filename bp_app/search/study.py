"""The study on disk: an SQLite file in the sweep directory, so a stopped search continues.

Optuna's RDB storage keeps every trial's state, parameters and per-epoch values; the same
command opens the same file again (``load_if_exists``). A trial left RUNNING by a kill is marked
failed and its parameters are asked again first, so nothing finished is ever trained twice.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from bp_app.errors import ConfigError
from bp_app.runs.layout import STUDY_FILE

log = logging.getLogger(__name__)

ERROR_ATTR = "error"  # a trial that ran and failed (e.g. it diverged): finished, counted
SETUP_ATTR = "search_setup"  # the space and fixed overrides the study was started with


def storage_url(sweep_dir: Path) -> str:
    """An absolute SQLite URL: trials find the study whatever their working directory."""
    return f"sqlite:///{(sweep_dir / STUDY_FILE).resolve()}"


def open_study(
    sweep_dir: Path, name: str, direction: str, sampler: Any, setup: dict[str, Any]
) -> optuna.Study:
    """Create the study, or load the one this sweep directory already holds."""
    if direction not in ("minimize", "maximize"):
        raise ConfigError(
            f"hydra.sweeper.direction={direction!r} is unknown; choose minimize or maximize"
        )
    sweep_dir.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(
        study_name=name,
        storage=storage_url(sweep_dir),
        direction=direction,
        sampler=sampler,
        load_if_exists=True,
    )
    check_same_search(study, sweep_dir, direction, setup)
    requeue_interrupted(study)
    return study


def check_same_search(
    study: optuna.Study, sweep_dir: Path, direction: str, setup: dict[str, Any]
) -> None:
    """A sweep directory continues only the search it was started with: another space, other
    fixed overrides or another direction would mix two searches in one study."""
    text = json.dumps(setup, sort_keys=True)
    stored = study.user_attrs.get(SETUP_ATTR)
    if stored is None:
        study.set_user_attr(SETUP_ATTR, text)
        stored = text
    wanted = study.direction.name.lower()
    if stored != text or wanted != direction:
        raise ConfigError(
            f"{sweep_dir} holds a study started with other settings ({stored}, {wanted}); "
            "run the same command to continue it, or set hydra.sweep.dir=<another folder> "
            "to start a new search"
        )


def requeue_interrupted(study: optuna.Study) -> None:
    """Trials a kill left RUNNING: failed, and their parameters enqueued to run again first."""
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study.tell(trial.number, state=TrialState.FAIL)
        study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
        log.info("Trial %d was interrupted: its parameters run again", trial.number)


def finished(study: optuna.Study) -> list[FrozenTrial]:
    """Trials that ran to their end: complete, pruned, or failed with an error of their own."""
    trials = study.get_trials(deepcopy=False)
    return [
        t
        for t in trials
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
        or (t.state == TrialState.FAIL and ERROR_ATTR in t.user_attrs)
    ]
