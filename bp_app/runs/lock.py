"""One process per run directory: an exclusive ``flock`` on ``<run dir>/.bp_app.lock``.

Two ``bp-train hydra.run.dir=X`` started together would otherwise both train into X, the second
resuming the first's checkpoints as they appear. The lock is taken before anything is written
(before Hydra's .hydra/ files, see guard.RunDirGuard) and held until the process ends. The kernel
drops an flock when its process dies, however it dies, so a lock left by a killed run never
blocks the next one; the PID written into the file is only for the message.

Held locks are kept per process and counted: ``train`` may take the lock its own Hydra callback
took, and a sweep that runs its jobs in one process releases each job's lock at the job's end.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from bp_app.errors import ConfigError
from bp_app.runs.layout import lock_file

# Resolved run directory -> (open descriptor holding the flock, times taken in this process).
_held: dict[Path, tuple[int, int]] = {}


# Set for the other processes of one DDP run (Lightning's launcher, torchrun, SLURM's srun): they
# share rank 0's run directory, and rank 0 holds it for them all.
RANK_VARIABLES = ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID")


def is_first_process() -> bool:
    return all(os.environ.get(name, "0") == "0" for name in RANK_VARIABLES)


def lock_run_dir(run_dir: Path) -> None:
    """Hold ``run_dir`` for this process; ConfigError naming the holder's PID if another has it."""
    if not is_first_process():
        return
    key = Path(run_dir).resolve()
    if key in _held:
        descriptor, count = _held[key]
        _held[key] = (descriptor, count + 1)
        return
    path = lock_file(key)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)  # no O_TRUNC: the PID stays
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(descriptor, 32, 0).decode(errors="replace").strip() or "?"
        os.close(descriptor)
        raise ConfigError(
            f"the run directory {run_dir} is in use by another bp-train (PID {holder}); two "
            "runs in one directory would write over each other's checkpoints. Wait for it to "
            "end, or start this run in another directory (leave hydra.run.dir out, or name a "
            "new one)."
        ) from None
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
    _held[key] = (descriptor, 1)


def release_run_dir(run_dir: Path) -> None:
    """Give back one hold on ``run_dir``; the flock goes with the last."""
    key = Path(run_dir).resolve()
    if key not in _held:
        return
    descriptor, count = _held.pop(key)
    if count > 1:
        _held[key] = (descriptor, count - 1)
        return
    os.close(descriptor)  # closing the descriptor drops the flock; the file stays (no races)


def release_all() -> None:
    for run_dir in list(_held):
        while run_dir in _held:
            release_run_dir(run_dir)
