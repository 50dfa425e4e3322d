"""The files and folders of a run directory, each named once.

    <run dir>/
      .hydra/config.yaml, overrides.yaml   the composed config and the command-line overrides
      checkpoints/last.ckpt                the newest state (every epoch end, a stop, a crash)
      checkpoints/best-*.ckpt              the best by validation loss
      tensorboard/                         event files
      images/                              image panels (image models), box panels (detectors)
      metrics.json                         final val/test metrics: the mark of a finished run
      .bp_app.lock                         held by the one process writing the run (runs/lock.py)

Sweeps (``bp-train -m``) put each job under ``<output dir>/multirun/<time>/<n>_<overrides>/``.
Searches (``bp-train -m hparams_search=<name>``) put trial n under
``<output dir>/search/<name>/<n>/``, beside the study (study.db), best.yaml and two pictures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bp_app.errors import ConfigError

HYDRA_DIR = ".hydra"
CONFIG_FILE = "config.yaml"
OVERRIDES_FILE = "overrides.yaml"
CHECKPOINTS_DIR = "checkpoints"
LAST_CHECKPOINT = "last.ckpt"
TENSORBOARD_DIR = "tensorboard"
IMAGES_DIR = "images"
METRICS_FILE = "metrics.json"  # written last: a run directory holding it is finished
LOCK_FILE = ".bp_app.lock"  # coordination, not output: never part of a run's results
MULTIRUN_DIR = "multirun"  # under paths.output_dir, as conf/hydra/default.yaml sets it
# A search's sweep directory (conf/hparams_search/*.yaml set hydra.sweep.dir to search/<name>).
STUDY_FILE = "study.db"  # Optuna's SQLite storage: the same command continues from it
STUDY_LOCK = "study.lock"  # one search process per sweep directory
BEST_FILE = "best.yaml"  # the best trial as a config: bp-train -cd <sweep dir> -cn best
HISTORY_PNG = "optimization_history.png"
IMPORTANCE_PNG = "param_importances.png"


def existing_checkpoint(path: str | Path) -> Path:
    """``path`` as a Path if it is a file, else a ConfigError that says what to pass."""
    path = Path(path)
    if path.is_dir():  # "does not exist" would be wrong: name a file inside it
        inside = sorted(path.glob("*.ckpt")) or sorted(path.glob(f"{CHECKPOINTS_DIR}/*.ckpt"))
        example = inside[0] if inside else path / CHECKPOINTS_DIR / LAST_CHECKPOINT
        raise ConfigError(
            f"ckpt_path={str(path)!r} is a folder, not a checkpoint file; pass the file, "
            f"e.g. ckpt_path={example}"
        )
    if not path.is_file():
        raise ConfigError(
            f"ckpt_path={str(path)!r} does not exist; pass a checkpoint of a run, "
            f"e.g. ckpt_path=outputs/<task>/<time>/{CHECKPOINTS_DIR}/{LAST_CHECKPOINT}"
        )
    return path


def checkpoints_dir(run_dir: Path) -> Path:
    return Path(run_dir) / CHECKPOINTS_DIR


def last_checkpoint(run_dir: Path) -> Path:
    return checkpoints_dir(run_dir) / LAST_CHECKPOINT


def metrics_file(run_dir: Path) -> Path:
    return Path(run_dir) / METRICS_FILE


def lock_file(run_dir: Path) -> Path:
    return Path(run_dir) / LOCK_FILE


def is_finished(run_dir: Path) -> bool:
    return metrics_file(run_dir).is_file()


def hydra_file(run_dir: Path, name: str) -> Path:
    """``.hydra/config.yaml`` or ``.hydra/overrides.yaml`` of a run."""
    return Path(run_dir) / HYDRA_DIR / name


def run_of_record(record: Path) -> Path:
    """The run directory of a ``.hydra/<file>``."""
    return record.parent.parent


def last_checkpoint_for(trainer: Any, fallback_dir: Path) -> Path:
    """Where a stop or a crash saves last.ckpt: beside ModelCheckpoint's files when one is
    configured, else in ``fallback_dir`` (the run's checkpoints/)."""
    configured = getattr(trainer.checkpoint_callback, "dirpath", None)
    return Path(configured or fallback_dir) / LAST_CHECKPOINT
