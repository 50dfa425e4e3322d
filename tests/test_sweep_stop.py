"""A sweep stopped by one bad job says which jobs never ran and how to run them (issue 22, 9g).

Hydra's basic launcher runs the jobs in one process; a user error in one ends it with exit 2.
"""

from __future__ import annotations

import shlex

from tests.conftest import REPO, compose_config, run_command

SWEEP = ["optimizer.lr=-1,0.1", "regularization=none,l2"]  # jobs 0 and 1 have the bad rate


def test_a_sweep_stopped_by_a_bad_job_lists_the_jobs_that_never_ran(tmp_path):
    sweep_dir = tmp_path / "sweep"
    result = run_command(
        "bp_app.train",
        ["-m", f"hydra.sweep.dir={sweep_dir}", "trainer.max_epochs=1", *SWEEP],
        REPO,
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("bp-train: error:")]
    assert len(errors) == 1 and "optimizer.lr" in errors[0], result.stderr[-3000:]
    # The first job stopped the sweep; the other three never ran, and each is named.
    note = result.stderr[result.stderr.index("bp-train: the sweep stopped") :].splitlines()
    assert "job #0 (trainer.max_epochs=1 optimizer.lr=-1 regularization=none)" in note[0], note
    assert "3 of its 4 jobs never ran" in note[0], note
    commands = [shlex.split(line) for line in note[1:] if line.startswith("  bp-train ")]
    never_ran = [
        [arg for arg in c if arg.startswith(("optimizer.lr=", "regularization="))] for c in commands
    ]
    assert never_ran == [
        ["optimizer.lr=-1", "regularization=l2"],
        ["optimizer.lr=0.1", "regularization=none"],
        ["optimizer.lr=0.1", "regularization=l2"],
    ]
    assert sorted(p.name for p in sweep_dir.iterdir() if p.is_dir()) == [
        "0_optimizer.lr=-1,regularization=none"
    ]  # no job after the first started
    # Each printed command is a valid bp-train command line for that job.
    cfg = compose_config("train", commands[-1][1:], tmp_path / "run")
    assert cfg.optimizer.lr == 0.1 and cfg.regularization.name == "l2"
    assert cfg.trainer.max_epochs == 1
