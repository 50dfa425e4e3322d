"""Private Lightning and Lightning Fabric APIs (checked against 2.6.6, see CHECKED_AGAINST)."""

from __future__ import annotations

from typing import Any

from lightning_fabric.utilities.cloud_io import _is_local_file_protocol
from pytorch_lightning.strategies.launchers import _SubprocessScriptLauncher


def batches_that_stepped(trainer: Any) -> int:
    """Lightning's count of batches that stepped: its loggers' step axis.

    ``trainer.fit_loop.epoch_loop._batches_that_stepped`` (private; Lightning 2.6.6).
    """
    return trainer.fit_loop.epoch_loop._batches_that_stepped


def set_batches_that_stepped(trainer: Any, count: int) -> None:
    """Set the loggers' step axis (see ``batches_that_stepped``)."""
    trainer.fit_loop.epoch_loop._batches_that_stepped = count


def is_local_path(path: str) -> bool:
    """True for a local file path, False for s3://, gs://, ... (Fabric's
    ``cloud_io._is_local_file_protocol``, private; Lightning Fabric 2.6.6)."""
    return _is_local_file_protocol(path)


def relaunches_command(launcher: Any) -> bool:
    """True when Lightning starts the other DDP ranks by running ``sys.argv`` again
    (``_SubprocessScriptLauncher``, private; Lightning 2.6.6) and nothing outside does it."""
    return (
        isinstance(launcher, _SubprocessScriptLauncher)
        and launcher.num_processes > 1
        and not launcher.cluster_environment.creates_processes_externally
    )
