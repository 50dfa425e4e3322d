"""What a finished run writes: metrics.json (flat val/ and test/ keys) and the HPARAMS row."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.loggers import TensorBoardLogger
from torch.utils.tensorboard.summary import hparams as hparams_summary

from bp_app.compat.torch_api import file_writer
from bp_app.errors import DataError
from bp_app.runs.layout import metrics_file

# The config groups whose values the HPARAMS tab shows beside the final metrics.
HPARAM_GROUPS = ("data", "model", "optimizer", "regularization", "descent", "scheduler")


def best_checkpoint(trainer: pl.Trainer) -> str | None:
    """The monitored checkpoint's best file, else None (test the weights in memory)."""
    monitored = [
        c for c in trainer.checkpoint_callbacks if isinstance(c, ModelCheckpoint) and c.monitor
    ]
    return (monitored[0].best_model_path or None) if monitored else None


def scalars(metrics: dict[str, Any], prefix: str) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if k.startswith(prefix)}


def check_finite(metrics: dict[str, float], run_dir: Path) -> None:
    """A NaN or inf final metric is a failed run, not a result: no metrics.json is written (so
    the run is not marked finished) and the error names the metric."""
    bad = sorted(key for key, value in metrics.items() if not math.isfinite(value))
    if bad:
        values = ", ".join(f"{key} = {metrics[key]}" for key in bad)
        raise DataError(
            f"the run ended with non-finite metrics ({values}), so it is not reported as "
            f"finished and {run_dir} gets no {metrics_file(run_dir).name}. Check the data for "
            "values too large or too small for float32, and lower optimizer.lr or clip the "
            "gradients (model.gradient_clip_val=1.0)."
        )


def write_metrics(run_dir: Path, metrics: dict[str, float]) -> Path:
    """metrics.json, written to a temporary file and renamed: a reader never sees half a file,
    and a run directory holding it is finished (see runs/layout.py)."""
    path = metrics_file(run_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    return path


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
    writer = file_writer(logger.experiment)  # the same writer Lightning itself uses
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

    groups = {g: OmegaConf.to_container(cfg[g], resolve=True) for g in HPARAM_GROUPS if cfg.get(g)}
    visit(groups, "")
    flat["seed"] = cfg.seed
    return flat
