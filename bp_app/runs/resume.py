"""resume=auto: the same command started again continues the run that was stopped.

A run counts as "the same command" when it has the same task_name (its folder under
paths.output_dir) and the same command-line overrides, apart from resume and ckpt_path.
Among those earlier runs the newest one decides: if it finished (it wrote metrics.json) the new
run starts fresh; if it stopped early (docker stop, a crash) the new run continues from its
checkpoints/last.ckpt. A run directory started again (a fixed hydra.run.dir) that holds an
unfinished run continues that run. An explicit ckpt_path always wins.

ckpt_path=last: the newest checkpoints/last.ckpt of this task, whatever its overrides (so a
longer run can continue a shorter one): this run directory's own when it has one, else the
newest among the earlier runs of the same task_name (single runs and sweep jobs).
"""

from __future__ import annotations

import logging
from pathlib import Path

import yaml
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from bp_app.errors import ConfigError
from bp_app.runs.layout import (
    CHECKPOINTS_DIR,
    CONFIG_FILE,
    HYDRA_DIR,
    LAST_CHECKPOINT,
    MULTIRUN_DIR,
    OVERRIDES_FILE,
    existing_checkpoint,
    is_finished,
    last_checkpoint,
    metrics_file,
    run_of_record,
)

log = logging.getLogger(__name__)

RESUME_MODES = ("auto", "never")
IGNORED_OVERRIDES = ("resume", "ckpt_path")  # choosing how to start does not change the run


def resume_checkpoint(cfg: DictConfig) -> str | None:
    """The checkpoint ``fit`` starts from (None: from scratch); logs which one and why."""
    mode = cfg.get("resume", "never")
    if mode not in RESUME_MODES:
        raise ConfigError(f"resume={mode!r} is not an option; use resume=auto or resume=never")
    if cfg.get("ckpt_path") == "last":
        checkpoint = newest_last_checkpoint(cfg)
        log.info("Resuming from %s (ckpt_path=last: the newest last.ckpt of this task)", checkpoint)
        return str(checkpoint)
    if cfg.get("ckpt_path"):
        if Path(cfg.ckpt_path).is_dir():
            existing_checkpoint(cfg.ckpt_path)  # a folder: its message names the file inside
        if not Path(cfg.ckpt_path).is_file():
            raise ConfigError(
                f"ckpt_path={str(cfg.ckpt_path)!r} does not exist. Pass a checkpoint file, e.g. "
                "ckpt_path=outputs/<task>/<time>/checkpoints/last.ckpt, or ckpt_path=last for "
                "the newest one of this task; leave ckpt_path out to start fresh."
            )
        log.info("Resuming from %s (ckpt_path)", cfg.ckpt_path)
        return str(cfg.ckpt_path)
    if mode == "never":
        return None
    here = Path(cfg.paths.run_dir)
    if last_checkpoint(here).is_file() and not is_finished(here):
        checkpoint = last_checkpoint(here)
        log.info(
            "Resuming from %s (resume=auto: this run directory holds an unfinished run)", checkpoint
        )
        return str(checkpoint)
    records = run_records(Path(cfg.paths.output_dir), cfg.task_name)
    newest = newest_run(records, current_overrides(), Path(cfg.paths.run_dir))
    if newest is None or is_finished(newest):
        log.info("Starting fresh (resume=auto: no unfinished earlier run of this command)")
        return None
    checkpoint = last_checkpoint(newest)
    log.info(
        "Resuming from %s (resume=auto: the newest run of this command stopped early)", checkpoint
    )
    return str(checkpoint)


def newest_last_checkpoint(cfg: DictConfig) -> Path:
    """ckpt_path=last: this run directory's last.ckpt, else the task's newest (module doc)."""
    own = last_checkpoint(Path(cfg.paths.run_dir))
    if own.is_file():
        return own
    output_dir = Path(cfg.paths.output_dir)
    found = list((output_dir / cfg.task_name).glob(f"*/{CHECKPOINTS_DIR}/{LAST_CHECKPOINT}"))
    for record in run_records(output_dir, cfg.task_name):  # sweep jobs of this task too
        found.append(last_checkpoint(run_of_record(record)))
    found = [path for path in found if path.is_file()]
    if not found:
        raise ConfigError(
            f"ckpt_path=last found no {own.parent.name}/{LAST_CHECKPOINT} in this run directory "
            f"({own.parent.parent}) or in an earlier run of task {cfg.task_name!r} under "
            f"{cfg.paths.output_dir}. Pass a checkpoint file (ckpt_path=path/to/last.ckpt) or "
            "leave ckpt_path out to start fresh."
        )
    return max(found, key=lambda path: path.stat().st_mtime)


def run_records(output_dir: Path, task_name: str) -> list[Path]:
    """The overrides.yaml of every earlier run of ``task_name``.

    Single runs sit at <output>/<task>/<time>/; sweep jobs at <output>/multirun/<time>/<n>_.../,
    where the job's own .hydra/config.yaml says which task it ran.
    """
    records = list((output_dir / task_name).glob(f"*/{HYDRA_DIR}/{OVERRIDES_FILE}"))
    for record in (output_dir / MULTIRUN_DIR).glob(f"*/*/{HYDRA_DIR}/{OVERRIDES_FILE}"):
        config = yaml.safe_load((record.parent / CONFIG_FILE).read_text()) or {}
        if config.get("task_name") == task_name:
            records.append(record)
    return records


def newest_run(records: list[Path], overrides: list[str], current: Path) -> Path | None:
    """The earlier run of these overrides that saved last.ckpt or metrics.json most recently."""
    latest: tuple[float, Path] | None = None
    for record in records:
        run = run_of_record(record)
        if run.resolve() == current.resolve() or read_overrides(record) != overrides:
            continue
        saved = [last_checkpoint(run), metrics_file(run)]
        times = [path.stat().st_mtime for path in saved if path.is_file()]
        if times and (latest is None or max(times) > latest[0]):
            latest = (max(times), run)
    return latest[1] if latest else None


def current_overrides() -> list[str]:
    """This run's command-line overrides as Hydra recorded them ([] when composed without Hydra)."""
    try:
        return comparable(list(HydraConfig.get().overrides.task))
    except ValueError:  # HydraConfig not set: composed in-process without Hydra's runtime
        return []


def read_overrides(path: Path) -> list[str]:
    return comparable(yaml.safe_load(path.read_text()) or [])


def comparable(overrides: list[str]) -> list[str]:
    return sorted(o for o in overrides if o.split("=", 1)[0].lstrip("+~") not in IGNORED_OVERRIDES)
