"""bp-train: compose the Hydra config, build the run's objects, fit, test, write metrics.json.

Only Hydra and bp_app's config modules are imported up front: ``--help``, ``--cfg job`` and a
mistake in the config answer before torch and Lightning load (seconds). ``train`` imports the
rest once the config has passed its early check.
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig

from bp_app.compat.hydra_help import shared_repository_help
from bp_app.compat.lightning_logs import lightning_logs_to_stderr
from bp_app.config import config_dir, container
from bp_app.config.checks import check_train_config
from bp_app.config.schema import register_schemas
from bp_app.errors import user_errors
from bp_app.runs.guard import check_run_dir
from bp_app.runs.heap import command_process, frozen_imports
from bp_app.runs.preemption import requeue_on_preemption
from bp_app.runs.resume import resume_checkpoint
from bp_app.runs.sigterm import exit_on_signals
from bp_app.runs.sweep_report import report_jobs_not_run

log = logging.getLogger(__name__)
register_schemas()
shared_repository_help()  # --help copies Hydra's config repository once, not per group
lightning_logs_to_stderr()  # before Hydra sets up logging, as importing Lightning here did


def train(cfg: DictConfig) -> dict[str, float]:
    """Train and test one configured run; return its final val and test metrics."""
    # Check: keys, numbers and choices first, from the config and bp_app's sources alone.
    check_train_config(cfg, imports=False)
    # Now the heavy part: torch, Lightning, and the data and model modules through build;
    # a command's process freezes them out of the garbage collector's walks (runs/heap.py).
    with frozen_imports():
        import pytorch_lightning as pl
        from pytorch_lightning.loggers import TensorBoardLogger

        from bp_app.callbacks.run_summary import RunSummary, command_line, config_yaml
        from bp_app.callbacks.trial_pruning import trial_record
        from bp_app.config.build import (
            build_callbacks,
            build_datamodule,
            build_loggers,
            build_model,
            build_trainer,
            set_threads,
        )
        from bp_app.runs.callbacks import run_callbacks
        from bp_app.runs.checkpoint_fit import check_checkpoint_fits
        from bp_app.runs.checkpoint_io import AtomicCheckpointIO
        from bp_app.runs.launch import check_elastic_restarts, check_sweep_launch
        from bp_app.runs.metrics import (
            best_checkpoint,
            check_finite,
            flat_params,
            log_hparams_with_metrics,
            scalars,
            write_metrics,
        )

        # Then what needs the classes (it imports every target), the checkpoint, the run dir.
        check_train_config(cfg)
    check_elastic_restarts()  # torchrun --max-restarts on a store a restart cannot reuse
    ckpt_path = resume_checkpoint(cfg)  # ckpt_path (or =last), or resume=auto's pick, or None
    out = Path(cfg.paths.run_dir)
    check_run_dir(out, ckpt_path)  # writable; a finished run there is never overwritten
    log.info("torch threads: %d (trainer.threads=%s)", set_threads(cfg), cfg.trainer.get("threads"))
    pl.seed_everything(cfg.seed, workers=True)

    # Build: data, model (sized by the data), callbacks, loggers, trainer.
    datamodule = build_datamodule(cfg)
    log.info("Data: %s", cfg.data._target_)
    model = build_model(cfg, datamodule)
    log.info("Model: %s\n%s", cfg.model._target_, model)
    if ckpt_path:
        # Another model's checkpoint, or one past trainer.max_epochs: say which.
        check_checkpoint_fits(ckpt_path, model, cfg.trainer.get("max_epochs"))
    callbacks = [*build_callbacks(cfg), *run_callbacks(out, container(cfg.data))]
    callbacks.append(RunSummary(config_yaml(cfg), command_line()))  # TEXT and GRAPHS tabs
    # Checkpoints written to a temporary file and renamed: a kill mid-save keeps the old one.
    trainer = build_trainer(cfg, callbacks, build_loggers(cfg), plugins=[AtomicCheckpointIO()])
    check_sweep_launch(trainer)  # bp-train -m with Lightning's re-run DDP launcher: refuse
    if trainer.is_global_zero:
        log.info("Run directory: %s", out.resolve())
        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                print(f"Watch it live: tensorboard --logdir {Path(logger.log_dir).resolve()}")

    # Fit, then test the best checkpoint.
    trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
    metrics = scalars(trainer.callback_metrics, prefix="val/")
    metrics.update(trial_record(callbacks))  # a search trial: its number, pruned or not
    if cfg.get("test", True):
        trainer.test(model, datamodule=datamodule, ckpt_path=best_checkpoint(trainer))
        metrics.update(scalars(trainer.callback_metrics, prefix="test/"))

    # Write: metrics.json (the run is finished) and the HPARAMS row; NaN is no result.
    check_finite(metrics, out)
    if trainer.is_global_zero:
        write_metrics(out, metrics)
        for logger in trainer.loggers:
            log_hparams_with_metrics(logger, flat_params(cfg), metrics)
        summary = ", ".join(f"{k} = {v:.4f}" for k, v in sorted(metrics.items()))
        log.info("Final metrics: %s", summary)
        print(f"bp-train finished: {summary} (run directory: {out})")
    return metrics


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Entry point: hand the config to ``train``; a user error prints plainly and exits 2."""
    # docker stop or Ctrl-C: the step finishes, last.ckpt is saved, exit 143 or 130. A submitit
    # job's preemption signal does the same, then submitit requeues the job and it resumes.
    # command_process: a command's one run may freeze its imports (runs/heap.py).
    try:
        with (
            user_errors("bp-train", log),
            requeue_on_preemption(),
            exit_on_signals(),
            command_process(),
        ):
            metrics = train(cfg)
    except SystemExit:
        report_jobs_not_run()  # a sweep (bp-train -m) stopped by this job: what never ran
        raise
    # Sweeps (hydra -m with an optimizing sweeper) minimize or maximize this value.
    return metrics.get(cfg.optimized_metric)


if __name__ == "__main__":
    main()
