"""How bp-train's processes start under DDP, and the one combination it refuses."""

from __future__ import annotations

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
