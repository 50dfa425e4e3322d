"""Optuna pruning for a search trial: report the objective after every validation, stop early
when the pruner says this trial trails the others at the same epoch.

optuna-integration's PyTorchLightningPruningCallback imports the ``lightning`` package, which
bp_app (``pytorch_lightning``) does not install, and raises ``TrialPruned`` out of ``fit``; this
callback stops the Trainer instead, so a pruned trial still tests and writes its metrics.json.
"""

from __future__ import annotations

import logging

import optuna
import pytorch_lightning as pl

from bp_app.errors import ConfigError

log = logging.getLogger(__name__)


class TrialPruning(pl.Callback):
    """Inactive unless the sweeper names a trial (``trial``, ``storage``, ``study_name``)."""

    def __init__(
        self,
        monitor: str,
        pruner: optuna.pruners.BasePruner | None = None,
        storage: str | None = None,
        study_name: str | None = None,
        trial: int | None = None,
    ) -> None:
        self.monitor = monitor
        self.pruner = pruner
        self.storage, self.study_name, self.number = storage, study_name, trial
        self.trial: optuna.Trial | None = None
        self.epochs = 0
        self.pruned = False

    @property
    def active(self) -> bool:
        return self.number is not None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if not self.active or stage != "fit" or not trainer.is_global_zero:
            return
        storage = optuna.storages.get_storage(self.storage)
        study = optuna.load_study(study_name=self.study_name, storage=storage, pruner=self.pruner)
        trial_id = storage.get_trial_id_from_study_id_trial_number(
            storage.get_study_id_from_name(self.study_name), self.number
        )
        self.trial = optuna.Trial(study, trial_id)
        self.trial.set_user_attr("max_epochs", trainer.max_epochs)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self.active or trainer.sanity_checking:
            return
        prune = False
        if self.trial is not None:  # rank zero reports; every rank learns the decision
            value = trainer.callback_metrics.get(self.monitor)
            if value is None:
                logged = ", ".join(sorted(trainer.callback_metrics)) or "nothing yet"
                raise ConfigError(
                    f"optimized_metric={self.monitor} is not logged by this run (it logs "
                    f"{logged}); set optimized_metric to one of those"
                )
            # One host read per epoch: the pruner compares intermediate values at each step.
            self.trial.report(float(value), step=trainer.current_epoch)
            self.epochs = trainer.current_epoch + 1
            self.trial.set_user_attr("epochs", self.epochs)
            prune = self.trial.should_prune()
        prune = trainer.strategy.broadcast(prune, src=0)
        if prune and not self.pruned:
            self.pruned = True
            trainer.should_stop = True
            log.info("Trial %s pruned after epoch %d", self.number, trainer.current_epoch + 1)
            if self.trial is not None:
                self.trial.set_user_attr("pruned", True)

    def record(self) -> dict[str, float]:
        """metrics.json's marks: which trial, whether it was pruned, after how many epochs."""
        if not self.active:
            return {}
        return {
            "trial/number": float(self.number),
            "trial/pruned": float(self.pruned),
            "trial/epochs": float(self.epochs),
        }


def trial_record(callbacks: list[pl.Callback]) -> dict[str, float]:
    """The marks of the run's TrialPruning callback, if it has an active one."""
    for callback in callbacks:
        if isinstance(callback, TrialPruning):
            return callback.record()
    return {}
