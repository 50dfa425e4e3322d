"""resume=auto: the same command started again continues the run that was stopped.

A run counts as "the same command" when it has the same task_name (its folder under
paths.output_dir) and the same command-line overrides, apart from resume and ckpt_path.
Among those earlier runs the newest one decides: if it finished (it wrote metrics.json) the new
run starts fresh; if it stopped early (docker stop, a crash) the new run continues from its
checkpoints/last.ckpt. An explicit ckpt_path always wins.
"""

from __future__ import annotations

import logging
from pathlib import Path

import yaml
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from bp_app.callbacks.graceful_stop import LAST_CHECKPOINT
from bp_app.errors import ConfigError

log = logging.getLogger(__name__)

RESUME_MODES = ("auto", "never")
IGNORED_OVERRIDES = ("resume", "ckpt_path")  # choosing how to start does not change the run


def resume_checkpoint(cfg: DictConfig) -> str | None:
    """The checkpoint ``fit`` starts from (None: from scratch); logs which one and why."""
    mode = cfg.get("resume", "never")
    if mode not in RESUME_MODES:
        raise ConfigError(f"resume={mode!r} is not an option; use resume=auto or resume=never")
    if cfg.get("ckpt_path"):
        log.info("Resuming from %s (ckpt_path)", cfg.ckpt_path)
        return str(cfg.ckpt_path)
    if mode == "never":
        return None
    records = run_records(Path(cfg.paths.output_dir), cfg.task_name)
    newest = newest_run(records, current_overrides(), Path(cfg.paths.run_dir))
    if newest is None or (newest / "metrics.json").is_file():
        log.info("Starting fresh (resume=auto: no unfinished earlier run of this command)")
        return None
    checkpoint = newest / "checkpoints" / LAST_CHECKPOINT
    log.info(
        "Resuming from %s (resume=auto: the newest run of this command stopped early)", checkpoint
    )
    return str(checkpoint)


def run_records(output_dir: Path, task_name: str) -> list[Path]:
    """The overrides.yaml of every earlier run of ``task_name``.

    Single runs sit at <output>/<task>/<time>/; sweep jobs at <output>/multirun/<time>/<n>_.../,
    where the job's own .hydra/config.yaml says which task it ran.
    """
    records = list((output_dir / task_name).glob("*/.hydra/overrides.yaml"))
    for record in (output_dir / "multirun").glob("*/*/.hydra/overrides.yaml"):
        config = yaml.safe_load((record.parent / "config.yaml").read_text()) or {}
        if config.get("task_name") == task_name:
            records.append(record)
    return records


def newest_run(records: list[Path], overrides: list[str], current: Path) -> Path | None:
    """The earlier run of these overrides that saved last.ckpt or metrics.json most recently."""
    latest: tuple[float, Path] | None = None
    for record in records:
        run = record.parent.parent
        if run.resolve() == current.resolve() or read_overrides(record) != overrides:
            continue
        saved = [run / "checkpoints" / LAST_CHECKPOINT, run / "metrics.json"]
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
