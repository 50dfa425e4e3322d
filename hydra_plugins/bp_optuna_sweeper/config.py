"""``hydra/sweeper=bp_optuna``: the settings conf/hparams_search/*.yaml fill in."""

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore


@dataclass
class BPOptunaSweeperConf:
    _target_: str = "hydra_plugins.bp_optuna_sweeper.sweeper.BPOptunaSweeper"
    direction: str = "minimize"  # of optimized_metric: minimize | maximize
    n_trials: int = 20  # finished trials (complete, pruned or failed); a resumed search counts on
    study_name: Any = None  # null: the sweep directory's name
    # TPE (Bergstra et al., 2011): model p(x | good) / p(x | bad) from the trials so far.
    sampler: Any = field(
        default_factory=lambda: {"_target_": "optuna.samplers.TPESampler", "seed": 0}
    )
    params: dict[str, str] = field(default_factory=dict)  # key: choice(...) | range | interval
    conditional: dict[str, Any] = field(default_factory=dict)  # "group=option": {key: sweep}
    max_failures_in_a_row: int = 3  # stop a search whose trials keep failing (a broken setup)


ConfigStore.instance().store(
    group="hydra/sweeper", name="bp_optuna", node=BPOptunaSweeperConf, provider="bp_app"
)
