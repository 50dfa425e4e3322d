"""Elastic restart: torchrun --max-restarts=1, one rank SIGKILLed mid-epoch. The agent stops the
group and starts it again; resume=auto finds the unfinished run in the fixed hydra.run.dir and
continues from its last.ckpt (the end of epoch 1); with trainer.deterministic=true the final
weights equal an uninterrupted run's. The model has dropout, so this holds only if every rank
restores its own random generators (and the loader its position).

2 ranks under one torchrun agent, c10d rendezvous on 127.0.0.1, gloo on the CPU, with
TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1: without it torch 2.14's restarted ranks hang (launch.py).
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from bp_app.errors import ConfigError
from bp_app.runs.launch import check_elastic_restarts
from tests.ranks import finish, free_port, process_env

KILL_AT = 7  # global step 7: mid epoch 2 of 2 (5 steps each); last.ckpt holds step 5
TRAIN = [
    "trainer=ddp_cpu",
    "trainer.max_epochs=2",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "trainer.deterministic=true",
    "data.batch_size=128",  # 1,257 digits / 2 ranks / 128: 5 steps per epoch
    "model.hidden_sizes=[16]",
    "model.dropout=0.2",
    "logger=none",
    "test=false",
    "resume=auto",
    "+callbacks.probe._target_=tests.rank_probes.RankProbe",
]


def torchrun(folder, extra: list[str]) -> subprocess.Popen:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes=1",
        "--nproc-per-node=2",
        "--max-restarts=1",
        "--rdzv-backend=c10d",
        f"--rdzv-endpoint=127.0.0.1:{port}",
        "-m",
        "bp_app.train",
        *TRAIN,
        f"+callbacks.probe.dirpath={folder}",
        f"hydra.run.dir={folder}/run",
        *extra,
    ]
    env = process_env(folder)
    env["TORCH_DISABLE_SHARE_RDZV_TCP_STORE"] = "1"  # a new store for each attempt
    folder.mkdir(exist_ok=True)
    return subprocess.Popen(
        command, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


@pytest.mark.slow
def test_rank_killed_mid_epoch_restarts_and_ends_as_an_uninterrupted_run(tmp_path):
    killed, plain = tmp_path / "killed", tmp_path / "plain"
    kill = [
        "+callbacks.kill._target_=tests.rank_probes.KillRankAt",
        "+callbacks.kill.rank=1",
        f"+callbacks.kill.step={KILL_AT}",
        f"+callbacks.kill.dirpath={killed}",
    ]
    # Both jobs at once (their own ports and folders): the test takes the time of the longer.
    (status, output), (plain_status, plain_output) = finish(
        [torchrun(killed, kill), torchrun(plain, [])]
    )
    assert status == 0, output[-4000:]
    assert plain_status == 0, plain_output[-4000:]
    assert (killed / f"killed_rank1_step{KILL_AT}").is_file()  # the kill did happen, mid-epoch
    assert "failed (exitcode: -9) local_rank: 1" in output, output[-4000:]  # the agent saw it
    resumed = f"Resuming from {killed}/run/checkpoints/last.ckpt (resume=auto: this run directory"
    assert resumed in output, output[-4000:]
    checkpoint = torch.load(killed / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["global_step"] == 10  # the restarted group ran to the end
    assert (killed / "run" / "metrics.json").is_file()

    for rank in (0, 1):
        after = torch.load(killed / f"weights_rank{rank}.pt", weights_only=True)
        reference = torch.load(plain / f"weights_rank{rank}.pt", weights_only=True)
        for name, value in reference.items():
            difference = (after[name] - value).abs().max().item()
            assert difference < 1e-6, f"rank {rank} {name}: {difference:.2e} from uninterrupted"


def test_a_restartable_torchrun_group_on_a_shared_store_is_refused(monkeypatch):
    """What torchrun --max-restarts=1 sets in each rank without the opt-out, and with it."""
    monkeypatch.setenv("TORCHELASTIC_MAX_RESTARTS", "1")
    monkeypatch.setenv("TORCHELASTIC_USE_AGENT_STORE", "True")
    with pytest.raises(ConfigError, match="TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1"):
        check_elastic_restarts()
    monkeypatch.setenv("TORCHELASTIC_USE_AGENT_STORE", "False")
    check_elastic_restarts()
    monkeypatch.setenv("TORCHELASTIC_USE_AGENT_STORE", "True")
    monkeypatch.setenv("TORCHELASTIC_MAX_RESTARTS", "0")  # no restart: the store is used once
    check_elastic_restarts()
