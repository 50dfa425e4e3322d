"""Two nodes simulated on this host: bp-train ranks started by two torchrun agents (c10d
rendezvous on 127.0.0.1, gloo), and by environment variables alone as a cluster scheduler does.
Either way every rank ends with the same weights, equal (to 1e-6) to one process trained on the
union of the ranks' batches, in one run directory written by global rank 0 only.

The ranks take every 2nd row of the epoch's permutation (TensorBatchLoader), so ranks 0 and 1's
i-th batches of 64 hold the same rows as one process's i-th batch of 128; DDP averages the two
mean gradients, which is the union's mean gradient.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from tests.ranks import finish, free_port, process_env, start_ranks
from tests.tensorboard_events import read_events

STEPS = 3  # per epoch, two epochs: full batches only (no rank's batch is short)
TRAIN = [
    "trainer.max_epochs=2",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    f"+trainer.limit_train_batches={STEPS}",
    "+trainer.limit_val_batches=1",
    "+trainer.limit_test_batches=1",
    "trainer.log_every_n_steps=1",
    "model.hidden_sizes=[16]",
    "+callbacks.probe._target_=tests.rank_probes.RankProbe",
]


def weights(folder, rank: int) -> dict[str, torch.Tensor]:
    return torch.load(folder / f"weights_rank{rank}.pt", weights_only=True)


@pytest.fixture(scope="module")
def union_weights(tmp_path_factory) -> dict[str, torch.Tensor]:
    """One process, batches of 128: the union of two ranks' batches of 64."""
    folder = tmp_path_factory.mktemp("one_process")
    command = [sys.executable, "-m", "bp_app.train", "trainer=cpu", "data.batch_size=128"]
    args = [*TRAIN, f"+callbacks.probe.dirpath={folder}", f"hydra.run.dir={folder}/run"]
    env = process_env(folder)
    result = subprocess.run(
        [*command, *args], cwd=folder, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return weights(folder, 0)


def check_one_job(folder, union: dict[str, torch.Tensor]) -> None:
    ranks = [weights(folder, r) for r in (0, 1)]
    for name, value in union.items():
        assert torch.equal(ranks[0][name], ranks[1][name]), f"{name}: ranks differ"
        difference = (ranks[0][name] - value).abs().max().item()
        assert difference < 1e-6, f"{name}: {difference:.2e} from one process on the union"
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == ["run"]  # one run dir
    run = folder / "run"
    assert (run / "metrics.json").is_file() and not (run / "train_ddp_process_1.log").exists()
    # events.out.tfevents.<time>.<host>.<pid>.<n>: one writing process (fit, test and the
    # HPARAMS row each open a file, as in one process), rank 0
    files = list((run / "tensorboard").rglob("events.out.tfevents.*"))
    assert len({f.name.split(".")[-2] for f in files}) == 1, [f.name for f in files]
    scalars, _ = read_events(files[0].parent)
    assert [step for step, _ in scalars["train/loss"]] == list(range(2 * STEPS))  # one writer


@pytest.mark.slow
def test_two_torchrun_agents_train_as_two_nodes(tmp_path, union_weights):
    port = free_port()
    agent = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes=2",
        "--nproc-per-node=1",
        "--rdzv-backend=c10d",
        f"--rdzv-endpoint=127.0.0.1:{port}",
        "--rdzv-id=two_nodes",
        "-m",
        "bp_app.train",
        "trainer=ddp_cpu",
        "trainer.devices=1",
        "trainer.num_nodes=2",
        "data.batch_size=64",
        *TRAIN,
        f"+callbacks.probe.dirpath={tmp_path}",
        f"hydra.run.dir={tmp_path}/run",
    ]
    env = process_env(tmp_path)
    agents = [
        subprocess.Popen(
            agent,
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    results = finish(agents)
    assert [status for status, _ in results] == [0, 0], (
        results[0][1][-3000:] + results[1][1][-3000:]
    )
    check_one_job(tmp_path, union_weights)


@pytest.mark.slow
def test_environment_variable_launch_trains_as_two_nodes(tmp_path, union_weights):
    args = [
        "data.batch_size=64",
        *TRAIN,
        f"+callbacks.probe.dirpath={tmp_path}",
        f"hydra.run.dir={tmp_path}/run",
    ]
    results = finish(start_ranks(tmp_path, args))
    assert [status for status, _ in results] == [0, 0], results[1][1][-3000:]
    check_one_job(tmp_path, union_weights)
