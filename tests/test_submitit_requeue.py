"""A preempted sweep job under the Hydra submitit launcher resumes its run: bp-train finishes the
step, saves last.ckpt, and submitit requeues the job, which continues in the same run directory
(resume=auto) and ends with the weights of a run never preempted.

submitit's local executor stands in for SLURM: its controller runs the job, restarts it when it
exits with submitit's requeue status, and (like SLURM) sends USR2 before a time limit. The test
sends that USR2 itself after a given step (tests/rank_probes.PreemptOnceAt), so it comes at a
known point instead of after a timer.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from tests.ranks import finish, process_env

PREEMPT_AT = 13  # mid epoch 2 of 2 (10 steps each)
TRAIN = [
    "trainer=cpu",
    "trainer.max_epochs=2",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "trainer.deterministic=true",
    "data.batch_size=128",  # 1,257 digits: 10 steps per epoch
    "model.hidden_sizes=[16]",
    "model.dropout=0.2",
    "logger=none",
    "test=false",
    "+callbacks.probe._target_=tests.rank_probes.RankProbe",
]


def bp_train(folder, args: list[str], multirun: bool = False) -> subprocess.Popen:
    env = process_env(folder)
    folder.mkdir(exist_ok=True)
    command = [sys.executable, "-m", "bp_app.train", *(["-m"] if multirun else []), *TRAIN]
    command.append(f"+callbacks.probe.dirpath={folder}")
    return subprocess.Popen(
        [*command, *args],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.slow
def test_preempted_submitit_sweep_job_is_requeued_and_resumes_its_run(tmp_path):
    swept, plain = tmp_path / "swept", tmp_path / "plain"
    sweep = [
        "hydra/launcher=submitit_local",
        f"hydra.sweep.dir={swept}/sweep",
        "hydra.sweep.subdir=job",
        "+callbacks.preempt._target_=tests.rank_probes.PreemptOnceAt",
        f"+callbacks.preempt.step={PREEMPT_AT}",
        f"+callbacks.preempt.dirpath={swept}",
    ]
    # The sweep and a run never preempted, at once: the test takes the time of the longer.
    (status, output), (plain_status, plain_output) = finish(
        [bp_train(swept, sweep, multirun=True), bp_train(plain, [f"hydra.run.dir={plain}/run"])]
    )
    job = swept / "sweep" / "job"
    logs = "".join(p.read_text() for p in (swept / "sweep" / ".submitit").rglob("*_log.*"))
    assert status == 0, output[-3000:] + logs[-3000:]
    assert plain_status == 0, plain_output[-3000:]
    assert (swept / f"preempted_step{PREEMPT_AT}").is_file()
    # First attempt: the step finished and last.ckpt was saved, then submitit requeued the job.
    assert f"stopped after global step {PREEMPT_AT} and saved {job}/checkpoints/last.ckpt" in logs
    assert "Requeued job" in logs, logs[-3000:]
    # Second attempt: the same run directory, continued from that checkpoint.
    resumed = f"Resuming from {job}/checkpoints/last.ckpt (resume=auto: this run directory"
    assert resumed in logs, logs[-3000:]
    assert (job / "metrics.json").is_file()
    assert sorted(p.name for p in (swept / "sweep").iterdir()) == [
        ".submitit",
        "job",
        "multirun.yaml",
    ]

    after = torch.load(swept / "weights_rank0.pt", weights_only=True)
    for name, value in torch.load(plain / "weights_rank0.pt", weights_only=True).items():
        assert torch.equal(after[name], value), f"{name}: the resumed job ends elsewhere"
