"""How bp-train's processes start under DDP, and the combinations it refuses."""

from __future__ import annotations

import os

import pytorch_lightning as pl

from bp_app.compat.lightning import relaunches_command
from bp_app.errors import ConfigError


def in_multirun() -> bool:
    """True inside a job of ``bp-train -m`` (a Hydra sweep)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def check_sweep_launch(trainer: pl.Trainer) -> None:
    """Refuse ``bp-train -m`` when Lightning would start the DDP ranks by re-running the command.

    Lightning's ``ddp`` strategy starts ranks 1..n-1 by running ``sys.argv`` again. Under ``-m``
    each of them would run the whole sweep in lockstep with rank 0, with its own sweep folder
    when the sweep dir holds a timestamp. torchrun, SLURM and ``ddp_spawn`` start the ranks
    themselves, so they are fine.
    """
    launcher = trainer.strategy.launcher
    if not (in_multirun() and relaunches_command(launcher)):
        return
    raise ConfigError(
        f"a multirun (-m) cannot use trainer.strategy=ddp with {launcher.num_processes} "
        "processes on this machine: Lightning starts the other processes by re-running this "
        "command line, so each would run the whole sweep again. To sweep on one machine, add "
        "trainer.strategy=ddp_spawn (it starts each run's processes itself, slower to start); "
        "or run each configuration as its own bp-train command; or let torchrun or SLURM "
        "(hydra/launcher=slurm) start the processes."
    )


def check_elastic_restarts() -> None:
    """Refuse a torchrun group that may restart (``--max-restarts`` > 0) on a shared store.

    torchrun's c10d rendezvous lends its own TCP store to the ranks (TORCHELASTIC_USE_AGENT_STORE)
    and, in torch 2.14, keeps that one store for the agent's lifetime. A restarted group's ranks
    read the keys the first attempt's ranks left there (each rank's gloo/NCCL address) and hang
    connecting to ranks that no longer exist. With TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1 every
    attempt's rank 0 hosts a new store, and a restart works (tests/test_elastic_restart.py).
    """
    restarts = int(os.environ.get("TORCHELASTIC_MAX_RESTARTS", "0"))
    if restarts > 0 and os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True":
        raise ConfigError(
            f"torchrun --max-restarts={restarts} lends its rendezvous store to the ranks, and "
            "torch keeps the first attempt's keys in it, so a restarted group would hang "
            "connecting its ranks. Start torchrun with TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1 in "
            "its environment (each attempt then gets a new store), or without --max-restarts."
        )
