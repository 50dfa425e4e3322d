"""Start bp-train's DDP ranks as a cluster scheduler does: one process per rank, each told its
place by environment variables (MASTER_ADDR, MASTER_PORT, NODE_RANK, LOCAL_RANK, WORLD_SIZE),
which Lightning's LightningEnvironment reads; or by torchrun agents, one per simulated node."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import torch


def free_port() -> int:
    """A port nobody listens on now (the OS picks it), for one test's rendezvous."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rank_env(tmp_path: Path, port: int, node_rank: int, world_size: int) -> dict[str, str]:
    return {
        **os.environ,
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
        "NODE_RANK": str(node_rank),
        "LOCAL_RANK": "0",  # one process per node: Lightning starts none of its own
        "WORLD_SIZE": str(world_size),
        "BP_OUTPUT_DIR": str(tmp_path / "outputs"),
        "PYTHONUNBUFFERED": "1",
        "OMP_NUM_THREADS": "1",
    }


def process_env(tmp_path: Path) -> dict[str, str]:
    """rank_env without the rendezvous variables: for one plain process, or for torchrun,
    which sets them for its workers."""
    env = rank_env(tmp_path, 0, 0, 1)
    for key in ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE"):
        env.pop(key)
    return env


def start_ranks(tmp_path: Path, args: list[str], world_size: int = 2) -> list[subprocess.Popen]:
    """``bp-train trainer=ddp_cpu trainer.devices=1 trainer.num_nodes=N ARGS`` once per node,
    all in one process group (rank 0 leads it), so a test can signal the whole job at once."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "bp_app.train",
        "trainer=ddp_cpu",
        "trainer.devices=1",
        f"trainer.num_nodes={world_size}",
        *args,
    ]
    processes: list[subprocess.Popen] = []
    for node in range(world_size):
        group = {"process_group": processes[0].pid} if processes else {"process_group": 0}
        processes.append(
            subprocess.Popen(
                command,
                cwd=tmp_path,
                env=rank_env(tmp_path, port, node, world_size),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                **group,
            )
        )
    return processes


def finish(processes: list[subprocess.Popen], timeout: float = 240) -> list[tuple[int, str]]:
    """Each rank's exit status and output; a rank still running after ``timeout`` is killed."""
    results = []
    for process in processes:
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for p in processes:
                p.kill()
            output, _ = process.communicate()
            output += f"\n[killed after {timeout} s]"
        results.append((process.returncode, output))
    return results


def rank_weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)
