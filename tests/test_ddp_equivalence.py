"""DDP is the same training: 2 gloo processes equal one process on the union of their batches.

Under DDP each rank back-propagates the mean loss of its own batch b_r and DDP averages the
gradients: g = (1/R) Σ_r ∇J(b_r), which with equal batch sizes is ∇J(b_0 ∪ … ∪ b_{R-1}), the
gradient of one process on the concatenated batch. So every update rule, clipping and batch
descent's accumulation (no all-reduce until the epoch's last chunk) must end at the same
parameters. One spawn of 2 processes trains every case; the one-process references run here.
Cases come from listing conf/optimizer/ and conf/descent/, so new options are covered as added.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
import torch
import torch.multiprocessing as mp
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from bp_app.config import config_dir
from bp_app.config.schema import register_schemas
from tests.ddp_training import WORLD_SIZE, Case, ddp_worker, train_one_process

MAX_RANK_BATCH = 4  # per-rank batch cap, so a descent's large batch_size still gives chunks
TOLERANCE = 1e-6


def group_options(group: str) -> list[str]:
    return sorted(path.stem for path in (config_dir() / group).glob("*.yaml"))


def composed_groups() -> tuple[dict[str, dict], dict[str, tuple[dict, int]]]:
    """Each optimizer config, and each descent config with its data.batch_size, composed by
    Hydra as bp-train composes them (descent options may set data.batch_size globally)."""
    register_schemas()
    GlobalHydra.instance().clear()
    optimizers, descents = {}, {}
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        for name in group_options("optimizer"):
            cfg = compose("train", overrides=[f"optimizer={name}"])
            optimizers[name] = OmegaConf.to_container(cfg.optimizer, resolve=True)
        for name in group_options("descent"):
            cfg = compose("train", overrides=[f"descent={name}"])
            mode = OmegaConf.to_container(cfg.descent, resolve=True)
            descents[name] = (mode, min(int(cfg.data.batch_size), MAX_RANK_BATCH))
    GlobalHydra.instance().clear()
    return optimizers, descents


def cases() -> list[Case]:
    """Every optimizer × every descent mode; each optimizer's other implementation
    (optimizer.impl) with mini-batches; and one clipped case."""
    optimizers, descents = composed_groups()
    out = []
    for opt, optimizer in optimizers.items():
        for descent, (mode, batch) in descents.items():
            out.append(Case(f"{opt}-{descent}", optimizer, mode, batch))
            if descent == "minibatch" and "impl" in optimizer:
                other = "torch" if optimizer["impl"] != "torch" else "explicit"
                out.append(
                    Case(f"{opt}-{other}-{descent}", {**optimizer, "impl": other}, mode, batch)
                )
    sgd = next(c for c in out if c.name == "sgd-minibatch")
    # Clipping must act on the all-reduced gradient, whose norm is the one process's.
    out.append(
        Case(
            "sgd-minibatch-clip",
            sgd.optimizer,
            sgd.descent,
            sgd.rank_batch_size,
            {"gradient_clip_val": 0.05},
        )
    )
    # Several optimizer steps (or batch-descent chunks) per Lightning batch: one DDP forward
    # wraps them all, and each backward must still all-reduce (or not, in batch descent).
    for name, k in (("adam-minibatch", 2), ("sgd-stochastic", 3), ("sgd-batch", 2)):
        case = next(c for c in out if c.name == name)
        out.append(Case(f"{name}-k{k}", case.optimizer, case.descent, case.rank_batch_size, {}, k))
    return out


CASES = cases()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def ddp_results(tmp_path_factory) -> list[dict[str, Any]]:
    """Every case trained by 2 gloo processes started once; each rank's parameters.

    Forked, as Lightning's ``ddp_fork`` does on CPU: the ranks inherit the imported modules
    instead of importing torch and Lightning again, which costs most of the time here."""
    out = tmp_path_factory.mktemp("ddp")
    args = (free_port(), CASES, str(out))
    mp.start_processes(ddp_worker, args=args, nprocs=WORLD_SIZE, start_method="fork")
    return [torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(WORLD_SIZE)]


def test_cases_cover_every_optimizer_and_descent_option():
    names = {c.name for c in CASES}
    for opt in group_options("optimizer"):
        for descent in group_options("descent"):
            assert f"{opt}-{descent}" in names
    assert {"sgd", "adam"} <= set(group_options("optimizer"))
    assert "minibatch" in group_options("descent")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_ddp_equals_one_process_on_the_union_of_batches(case: Case, ddp_results):
    rank0, rank1 = (results[case.name] for results in ddp_results)
    initial, reference, steps = train_one_process(case)

    assert rank0["steps"] == rank1["steps"] == steps > 0
    for name, expected in reference.items():
        # The ranks hold identical replicas, and the replicas equal the one-process run.
        assert torch.equal(rank0["params"][name], rank1["params"][name]), name
        error = (rank0["params"][name] - expected).abs().max().item()
        assert error <= TOLERANCE, f"{case.name} {name}: max |Δ| = {error:.2e}"
        assert not torch.equal(expected, initial[name]), f"{name} did not train"
