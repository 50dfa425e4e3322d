"""One process per run directory (issue 22): a second process into a held directory is refused
with one line naming the holder's PID, before it writes anything; a killed holder's lock does not
block the next run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bp_app.errors import ConfigError
from bp_app.runs.guard import check_run_dir
from bp_app.runs.layout import LOCK_FILE
from bp_app.runs.lock import release_run_dir
from tests.conftest import REPO, run_command

HOLD = "import sys, time; from bp_app.runs.lock import lock_run_dir; lock_run_dir(sys.argv[1]); "
HOLD += "print('held', flush=True); time.sleep(300)"


def hold(run_dir: Path) -> subprocess.Popen[str]:
    """Another process holding ``run_dir`` as a running bp-train does."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(run_dir)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_held_directory_is_refused_and_a_killed_holders_lock_is_not(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    holder = hold(run_dir)
    try:
        with pytest.raises(ConfigError, match=rf"in use by another bp-train \(PID {holder.pid}\)"):
            check_run_dir(run_dir, None)
    finally:
        holder.send_signal(signal.SIGKILL)  # no clean-up runs: the lock file stays behind
        holder.wait()
    assert (run_dir / LOCK_FILE).read_text().strip() == str(holder.pid)
    check_run_dir(run_dir, None)  # the kernel dropped the dead process's lock
    assert (run_dir / LOCK_FILE).read_text().strip() == str(os.getpid())
    release_run_dir(run_dir)


def test_cli_second_process_exits_2_before_writing_anything(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    holder = hold(run_dir)
    try:
        result = run_command("bp_app.train", [f"hydra.run.dir={run_dir}"], REPO)
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 2, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("bp-train: error:")]
    assert errors == [
        f"bp-train: error: the run directory {run_dir} is in use by another bp-train "
        f"(PID {holder.pid}); two runs in one directory would write over each other's "
        "checkpoints. Wait for it to end, or start this run in another directory (leave "
        "hydra.run.dir out, or name a new one)."
    ]
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in run_dir.iterdir()) == [LOCK_FILE], "nothing else written"
