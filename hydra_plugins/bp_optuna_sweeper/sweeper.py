"""The sweeper: check the space, open (or reopen) the study, then ask, launch, tell, n_trials
times, and write best.yaml and the pictures. The trial's job reports to the same study through
``callbacks.trial_pruning`` (bp_app.callbacks.trial_pruning), which prunes it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import optuna
from filelock import FileLock, Timeout
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from bp_app.errors import USER_ERROR_EXIT, ConfigError, user_errors
from bp_app.runs.layout import STUDY_LOCK
from bp_app.search.checks import check_search
from bp_app.search.results import OVERRIDES_ATTR, write_results
from bp_app.search.space import SearchSpace
from bp_app.search.study import ERROR_ATTR, finished, open_study, storage_url

log = logging.getLogger(__name__)
PRUNING = "callbacks.trial_pruning"


class BPOptunaSweeper(Sweeper):
    def __init__(
        self,
        direction: str,
        n_trials: int,
        study_name: str | None,
        sampler: Any,
        params: dict[str, str],
        conditional: dict[str, Any],
        max_failures_in_a_row: int,
    ) -> None:
        self.direction, self.n_trials, self.study_name = direction, n_trials, study_name
        self.sampler, self.params, self.conditional = sampler, params, conditional
        self.max_failures = max_failures_in_a_row

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> Any:
        with user_errors("bp-train", log):  # bad input: one line, exit 2, before any trial
            return self.search(arguments)

    def search(self, arguments: list[str]) -> list[Sequence[Any]]:
        sweep_dir = Path(self.config.hydra.sweep.dir)
        fixed, searched = split_arguments(arguments)
        params = {**container(self.params), **searched}
        space = SearchSpace.from_config(params, container(self.conditional))
        first = check_search(space, self.compose, fixed, self.direction)  # before any trial
        if (
            first is None
            or not first.get("callbacks")
            or PRUNING.split(".")[1] not in first.callbacks
        ):
            raise ConfigError(f"the search needs {PRUNING}: start from conf/hparams_search/")
        metric = str(first.optimized_metric)
        name = self.study_name or sweep_dir.name
        setup = {"params": params, "conditional": container(self.conditional), "fixed": fixed}
        sweep_dir.mkdir(parents=True, exist_ok=True)
        try:
            with FileLock(sweep_dir / STUDY_LOCK, timeout=0):
                return self.run_trials(sweep_dir, name, space, fixed, setup, metric)
        except Timeout:
            raise ConfigError(
                f"another bp-train is running the search in {sweep_dir}; wait for it to finish"
            ) from None

    def run_trials(
        self,
        sweep_dir: Path,
        name: str,
        space: SearchSpace,
        fixed: list[str],
        setup: Any,
        metric: str,
    ) -> list[Sequence[Any]]:
        sampler = self.sampler  # Hydra instantiates the sweeper's nodes with it, unless _partial_
        if not isinstance(sampler, optuna.samplers.BaseSampler):
            sampler = instantiate(sampler)
        study = open_study(sweep_dir, name, self.direction, sampler, setup)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        link = [f"{PRUNING}.storage='{storage_url(sweep_dir)}'", f"{PRUNING}.study_name='{name}'"]
        returns: list[Sequence[Any]] = []
        failures = 0
        done = len(finished(study))
        if done:
            print(
                f"bp-train search: {done} of {self.n_trials} trials already finished in {sweep_dir}"
            )
        while len(finished(study)) < self.n_trials:
            trial = study.ask()
            searched = space.suggest(trial)
            trial.set_user_attr(OVERRIDES_ATTR, searched)
            job = [*fixed, *searched, *link, f"{PRUNING}.trial={trial.number}"]
            log.info("Trial %d: %s", trial.number, " ".join(searched))
            try:
                [result] = self.launcher.launch([job], initial_job_idx=trial.number)
                value, error = result.return_value, None
                returns.append([result])
            except SystemExit as stop:
                if stop.code != USER_ERROR_EXIT:  # 143: SIGTERM, 1: Ctrl-C; asked again later
                    raise
                value, error = None, "the trial stopped with an error (see its log)"
            except Exception as exc:  # a bug, not the trial's choices: stop as Hydra would
                trial.set_user_attr(ERROR_ATTR, repr(exc))
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                raise
            failures = 0 if tell(study, trial, value, error) else failures + 1
            if failures >= self.max_failures:
                raise ConfigError(
                    f"{failures} trials in a row failed; see their logs in {sweep_dir}"
                )
        write_results(study, finished(study), sweep_dir, metric)
        return returns

    def compose(self, overrides: list[str]) -> DictConfig:
        loader = self.hydra_context.config_loader
        return loader.load_sweep_config(self.config, list(overrides))


def tell(study: optuna.Study, trial: optuna.Trial, value: Any, error: str | None) -> bool:
    """Record the trial's end: pruned (its callback said so), complete, or failed."""
    frozen = study.get_trials(deepcopy=False)[trial.number]
    if frozen.user_attrs.get("pruned"):
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        return True
    if error is None and isinstance(value, (int, float)) and value == value:  # not NaN
        study.tell(trial, float(value))
        return True
    trial.set_user_attr(ERROR_ATTR, error or f"the objective was {value!r}")
    study.tell(trial, state=optuna.trial.TrialState.FAIL)
    return False


def split_arguments(arguments: list[str]) -> tuple[list[str], dict[str, str]]:
    """Command-line overrides: fixed ones pass to every trial, sweeps join the space."""
    fixed: list[str] = []
    searched: dict[str, str] = {}
    for override in OverridesParser.create().parse_overrides(arguments):
        if override.is_sweep_override():
            searched[override.get_key_element()] = override.input_line.split("=", 1)[1]
        else:
            fixed.append(override.input_line)
    return fixed, searched


def container(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node or {}
