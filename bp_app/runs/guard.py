"""A run directory is never overwritten silently, and one that cannot be written fails at once.

A directory holding a finished run (metrics.json) is refused; one holding an unfinished run is
continued only when this run resumes from a checkpoint inside it; one that cannot be created or
written is refused, naming the folder; one that another process is writing is refused, naming
that process (runs/lock.py). bp-train checks this in ``train`` and, before Hydra
writes .hydra/, in ``RunDirGuard`` (conf/train.yaml). The rule and its reasons:
docs/internals.md.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, open_dict, read_write

from bp_app.errors import ConfigError, user_errors
from bp_app.runs.layout import CHECKPOINTS_DIR, METRICS_FILE, is_finished, last_checkpoint
from bp_app.runs.lock import lock_run_dir, release_all, release_run_dir
from bp_app.runs.resume import resume_checkpoint


def check_run_dir(run_dir: Path, resumes_from: str | None) -> None:
    """Raise ConfigError when this run may not write ``run_dir`` (see the module doc); else hold
    it for this process (runs/lock.py) before anything is written there."""
    check_writable(run_dir)
    lock_run_dir(run_dir)  # another process in it: refused, naming its PID
    try:
        check_contents(run_dir, resumes_from)
    except ConfigError:
        release_run_dir(run_dir)
        raise


def check_contents(run_dir: Path, resumes_from: str | None) -> None:
    """A finished run is never written over; an unfinished one only by the run resuming it."""
    if is_finished(run_dir):
        raise ConfigError(
            f"the run directory {run_dir} already holds a finished run ({METRICS_FILE}); "
            "bp-train does not write over it. Start a new run directory (leave hydra.run.dir "
            "out for a new timestamped one, or name a new one); to train that run further, "
            f"resume from it there: ckpt_path={last_checkpoint(run_dir)}."
        )
    earlier = earlier_outputs(run_dir)
    if earlier and not (resumes_from and is_inside(Path(resumes_from), run_dir)):
        raise ConfigError(
            f"the run directory {run_dir} holds an unfinished run ({', '.join(earlier)}) that "
            "this run would write over. Continue it with resume=auto or ckpt_path=last, or "
            "start a new run directory (leave hydra.run.dir out, or name a new one)."
        )


def check_writable(run_dir: Path) -> None:
    """Create ``run_dir`` and write a file in it; a failure names the folder and the fix."""
    probe = run_dir / f".bp_app_write_test_{os.getpid()}"
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        blocker = next((p for p in (run_dir, *run_dir.parents) if p.is_file()), None)
        reason = f"{blocker} is a file, not a folder" if blocker else error.strerror
        raise ConfigError(
            f"cannot write the run directory {run_dir}: {reason}. "
            "Choose a folder you can write: paths.output_dir=<folder> (or the BP_OUTPUT_DIR "
            "variable), or hydra.run.dir=<folder>."
        ) from None


def earlier_outputs(run_dir: Path) -> list[str]:
    """The checkpoints an earlier run left here, which a fresh start would write over.

    TensorBoard adds new event files beside old ones, and Hydra's .hydra/ and the log of a run
    that failed before its first checkpoint are no run to continue: those do not count.
    """
    return sorted(str(p.relative_to(run_dir)) for p in run_dir.glob(f"{CHECKPOINTS_DIR}/*.ckpt"))


def is_inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


class RunDirGuard(Callback):
    """Hydra callback: refuse before Hydra writes .hydra/ into a directory bp-train must not use.

    A refusal prints ``bp-train: error: ...`` and exits with status 2, as bp-train's own errors do.
    """

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        quiet = logging.getLogger(resume_checkpoint.__module__)  # train() logs the decision
        quiet.disabled = True
        try:
            with user_errors("bp-train"):
                HydraConfig.instance().set_config(config)  # ${hydra:...} resolves as in the job
                run_dir = Path(str(config.hydra.run.dir))
                with read_write(config.hydra.runtime), open_dict(config.hydra.runtime):
                    config.hydra.runtime.output_dir = str(run_dir.resolve())  # as run_job sets it
                HydraConfig.instance().set_config(config)  # now with paths.run_dir resolvable
                check_run_dir(run_dir, resume_checkpoint(config))
        finally:
            quiet.disabled = False

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        release_all()  # a sweep runs its jobs in one process: each job frees its directory
