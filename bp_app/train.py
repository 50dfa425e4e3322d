"""bp-train: compose the Hydra config, build the run's objects, fit, test, write metrics.json."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import hydra
import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.loggers import TensorBoardLogger
from torch.utils.tensorboard.summary import hparams as hparams_summary

from bp_app.callbacks.crash_checkpoint import CrashCheckpoint
from bp_app.callbacks.exact_resume import ExactResume
from bp_app.callbacks.graceful_stop import GracefulStop, exit_on_sigterm
from bp_app.callbacks.run_record import RunRecord
from bp_app.callbacks.run_summary import RunSummary, command_line, config_yaml
from bp_app.callbacks.trial_pruning import trial_record
from bp_app.checkpoint_fit import check_checkpoint_fits
from bp_app.checkpoint_io import AtomicCheckpointIO
from bp_app.config import config_dir
from bp_app.config.build import (
    build_callbacks,
    build_datamodule,
    build_loggers,
    build_model,
    build_trainer,
    container,
    run_dir,
)
from bp_app.config.checks import check_train_config
from bp_app.config.schema import register_schemas
from bp_app.distributed import check_sweep_launch
from bp_app.errors import BPAppError
from bp_app.resume import resume_checkpoint
from bp_app.run_guard import check_run_dir

log = logging.getLogger(__name__)
register_schemas()


def train(cfg: DictConfig) -> dict[str, float]:
    """Train and test one configured run; return its final val and test metrics."""
    check_train_config(cfg)  # before any data is loaded
    ckpt_path = resume_checkpoint(cfg)  # ckpt_path (or =last), or resume=auto's pick, or None
    out = run_dir(cfg)
    check_run_dir(out, ckpt_path)  # writable; a finished run there is never overwritten
    pl.seed_everything(cfg.seed, workers=True)

    datamodule = build_datamodule(cfg)
    log.info("Data: %s", cfg.data._target_)
    model = build_model(cfg, datamodule)
    log.info("Model: %s\n%s", cfg.model._target_, model)
    if ckpt_path:
        check_checkpoint_fits(ckpt_path, model)  # another model's checkpoint: say which
    callbacks = [*build_callbacks(cfg), RunRecord(container(cfg.data))]
    callbacks.append(RunSummary(config_yaml(cfg), command_line()))  # TEXT and GRAPHS tabs
    callbacks.append(GracefulStop(out / "checkpoints"))  # SIGTERM: save last.ckpt, then stop
    # Always on, not in the config: generators saved for exact resume; a crash saves last.ckpt.
    callbacks += [ExactResume(), CrashCheckpoint(out / "checkpoints")]
    loggers = build_loggers(cfg)
    # Checkpoints written to a temporary file and renamed: a kill mid-save keeps the old one.
    trainer = build_trainer(cfg, callbacks, loggers, plugins=[AtomicCheckpointIO()])
    check_sweep_launch(trainer)  # bp-train -m with Lightning's re-run DDP launcher: refuse
    if trainer.is_global_zero:
        log.info("Run directory: %s", out.resolve())
        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                print(f"Watch it live: tensorboard --logdir {Path(logger.log_dir).resolve()}")

    trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
    metrics = scalars(trainer.callback_metrics, prefix="val/")
    metrics.update(trial_record(callbacks))  # a search trial: its number, pruned or not
    if cfg.get("test", True):
        trainer.test(model, datamodule=datamodule, ckpt_path=best_checkpoint(trainer))
        metrics.update(scalars(trainer.callback_metrics, prefix="test/"))

    if trainer.is_global_zero:
        write_metrics(out / "metrics.json", metrics)
        for logger in trainer.loggers:
            log_hparams_with_metrics(logger, flat_params(cfg), metrics)
        summary = ", ".join(f"{k} = {v:.4f}" for k, v in sorted(metrics.items()))
        log.info("Final metrics: %s", summary)
        print(f"bp-train finished: {summary} (run directory: {out})")
    return metrics


def best_checkpoint(trainer: pl.Trainer) -> str | None:
    """The monitored checkpoint's best file, else None (test the weights in memory)."""
    monitored = [
        c for c in trainer.checkpoint_callbacks if isinstance(c, ModelCheckpoint) and c.monitor
    ]
    return (monitored[0].best_model_path or None) if monitored else None


def scalars(metrics: dict[str, Any], prefix: str) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if k.startswith(prefix)}


def write_metrics(path: Path, metrics: dict[str, float]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)  # atomic: a reader never sees half a file


def log_hparams_with_metrics(logger: Any, params: dict[str, Any], metrics: dict[str, float]):
    """The HPARAMS tab's row: the run's choices beside its final metrics.

    Lightning's ``log_hyperparams(params, metrics)`` also re-logs the metrics at step 0, which
    would bend every curve back to the start; the metrics are already scalars, so only the
    hparams summaries are written here.
    """
    if not isinstance(logger, TensorBoardLogger):
        logger.log_hyperparams(params)
        logger.save()
        return
    experiment, session_start, session_end = hparams_summary(params, metrics)
    writer = logger.experiment._get_file_writer()  # the same writer Lightning itself uses
    for summary in (experiment, session_start, session_end):
        writer.add_summary(summary)
    logger.save()


def flat_params(cfg: DictConfig) -> dict[str, Any]:
    """The run's choices as flat 'group.key' scalars for TensorBoard's hparams view."""
    flat: dict[str, Any] = {}

    def visit(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                visit(value, f"{prefix}.{key}" if prefix else str(key))
        elif isinstance(node, (int, float, str, bool)):
            flat[prefix] = node
        elif isinstance(node, list):
            flat[prefix] = str(node)

    groups = ("data", "model", "optimizer", "regularization", "descent", "scheduler")
    visit({g: OmegaConf.to_container(cfg[g], resolve=True) for g in groups if cfg.get(g)}, "")
    flat["seed"] = cfg.seed
    return flat


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Entry point: hand the config to ``train``; a user error prints plainly and exits 2."""
    try:
        with exit_on_sigterm():  # docker stop: the step finishes, last.ckpt is saved, exit 143
            metrics = train(cfg)
    except BPAppError as error:
        log.error("%s", error)
        print(f"bp-train: error: {error}", file=sys.stderr)
        sys.exit(2)
    # Sweeps (hydra -m with an optimizing sweeper) minimize or maximize this value.
    return metrics.get(cfg.optimized_metric)


if __name__ == "__main__":
    main()
