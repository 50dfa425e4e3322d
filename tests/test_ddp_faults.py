"""A preempted DDP job loses nothing: SIGTERM to every rank stops them all after the same step,
rank 0 saves one last.ckpt, every rank exits 143, and the same command resumes with each rank's
own random generators (its dropout masks go on as if never stopped).

The ranks are started as a cluster scheduler starts them (tests/ranks.py: one process per
node, told its rank by environment variables), 2 of them with gloo on the CPU.
"""

from __future__ import annotations

import json
import re
import signal

import pytest
import torch

from bp_app.runs.checkpoints import load_checkpoint
from bp_app.runs.sigterm import EXIT_SIGTERM
from tests.ranks import finish, start_ranks

STOP_AT = 7  # mid epoch 2 of 3 (5 steps each), after the ranks' generators have drifted apart
TRAIN = [
    "trainer.max_epochs=3",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "trainer.deterministic=true",
    "data.batch_size=128",  # 1,257 digits / 2 ranks / 128: 5 steps per epoch
    "model.hidden_sizes=[16]",
    "model.dropout=0.2",
    "+callbacks.probe._target_=tests.rank_probes.RankProbe",
]
STOPPED = re.compile(r"SIGTERM: stopped after global step (\d+) and saved (\S+last\.ckpt)")


def masks(tmp_path, rank: int) -> dict[str, list[int]]:
    return json.loads((tmp_path / f"masks_rank{rank}.json").read_text())


@pytest.mark.slow
def test_sigterm_to_every_rank_saves_once_exits_143_and_resumes_each_ranks_generators(tmp_path):
    args = [*TRAIN, f"+callbacks.probe.dirpath={tmp_path}", f"hydra.run.dir={tmp_path}/run"]
    preempt = [
        "+callbacks.stop._target_=tests.rank_probes.SigtermJobAt",
        f"+callbacks.stop.step={STOP_AT}",
    ]

    stopped = finish(start_ranks(tmp_path, [*args, *preempt]))
    assert [status for status, _ in stopped] == [EXIT_SIGTERM] * 2, stopped[1][1][-3000:]
    saves = [m.groups() for _, output in stopped for m in STOPPED.finditer(output)]
    assert saves == [(str(STOP_AT), f"{tmp_path}/run/checkpoints/last.ckpt")]  # rank 0, once
    # Every rank stopped after the same step: none started another.
    assert all(f"start{STOP_AT}" not in masks(tmp_path, r) for r in (0, 1))
    before = [masks(tmp_path, r)[f"after{STOP_AT}"] for r in (0, 1)]
    assert before[0] != before[1], "the ranks' generators differ here, so a mix-up shows"

    resumed = finish(start_ranks(tmp_path, [*args, *preempt]))  # the same command again
    assert [status for status, _ in resumed] == [0, 0], resumed[0][1][-3000:]
    assert "Resuming from" in resumed[0][1]
    for rank in (0, 1):  # each rank draws the mask it would have drawn without the stop
        assert masks(tmp_path, rank)[f"start{STOP_AT}"] == before[rank], f"rank {rank}"
    weights = [torch.load(tmp_path / f"weights_rank{r}.pt") for r in (0, 1)]
    for name, value in weights[0].items():
        assert torch.equal(value, weights[1][name]), name
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())[-1] == "last.ckpt"
    assert (tmp_path / "run" / "metrics.json").is_file()


@pytest.mark.slow
def test_one_rank_failing_ends_every_rank_with_its_error_and_keeps_last_ckpt(tmp_path):
    """Rank 1 raises in epoch 2: no rank hangs in a collective, the error named is rank 1's,
    and last.ckpt is still the end of epoch 1, loadable (no half-written save from one rank)."""
    args = [
        *(arg for arg in TRAIN if not arg.startswith("trainer.max_epochs=")),
        "trainer.max_epochs=2",
        f"+callbacks.probe.dirpath={tmp_path}",
        f"hydra.run.dir={tmp_path}/run",
        "+callbacks.fail._target_=tests.rank_probes.RaiseOnRankAt",
        "+callbacks.fail.rank=1",
        f"+callbacks.fail.step={STOP_AT}",
    ]
    results = finish(start_ranks(tmp_path, args), timeout=120)
    outputs = "".join(output for _, output in results)
    assert "[killed after" not in outputs, outputs[-3000:]  # both ended on their own
    assert all(status not in (0, EXIT_SIGTERM) for status, _ in results), outputs[-3000:]
    assert f"RuntimeError: rank 1 failed before step {STOP_AT}" in results[1][1]
    checkpoint = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["global_step"] == 5  # the end of epoch 1


@pytest.mark.slow
def test_rank_zero_killed_while_writing_last_ckpt_leaves_the_previous_one_loadable(tmp_path):
    """Rank 0 (the one that writes) dies halfway through writing the end of epoch 2's last.ckpt:
    the half-written bytes sit in a hidden temporary file, last.ckpt is still epoch 1's and loads,
    and rank 1 ends instead of waiting at the save's barrier."""
    args = [
        *(arg for arg in TRAIN if not arg.startswith("trainer.max_epochs=")),
        "trainer.max_epochs=2",
        "logger=none",
        f"+callbacks.probe.dirpath={tmp_path}",
        f"hydra.run.dir={tmp_path}/run",
        "+callbacks.kill._target_=tests.rank_probes.KillDuringSave",
        "+callbacks.kill.rank=0",
        "+callbacks.kill.step=10",  # the end of epoch 2 (5 steps each)
    ]
    results = finish(start_ranks(tmp_path, args), timeout=120)
    outputs = "".join(output for _, output in results)
    assert "[killed after" not in outputs, outputs[-3000:]  # rank 1 did not hang
    assert results[0][0] == -signal.SIGKILL and results[1][0] != 0, outputs[-3000:]
    checkpoints = tmp_path / "run" / "checkpoints"
    (partial,) = checkpoints.glob(".last.ckpt.*.tmp")  # the write that was cut off
    last = checkpoints / "last.ckpt"
    assert 0 < partial.stat().st_size < last.stat().st_size
    with pytest.raises((OSError, RuntimeError)):  # torch 2.14: OSError (EINVAL) on a cut zip
        torch.load(partial, weights_only=True)  # half a file: unreadable, and never taken
    assert load_checkpoint(last)["global_step"] == 5  # the end of epoch 1, whole
    assert [p.name for p in checkpoints.glob("*last*.ckpt")] == ["last.ckpt"]
