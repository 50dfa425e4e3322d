"""Atomic checkpoint files: a run killed while saving leaves the previous checkpoint readable.

``AtomicCheckpointIO`` writes beside the checkpoint (same folder, same filesystem), fsyncs, and
``os.replace``s it over the old file: readers see the old file or the new one, never half.
Remote paths (s3://, gs://) keep Lightning's own transaction. Why Lightning's own save is not
enough across filesystems: docs/internals.md.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from bp_app.compat.lightning import is_local_path
from bp_app.errors import StorageError


class AtomicCheckpointIO(TorchCheckpointIO):
    """TorchCheckpointIO whose local saves are write-to-temporary, fsync, then rename."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None or not is_local_path(str(path)):
            super().save_checkpoint(checkpoint, path, storage_options=storage_options)
            return
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Hidden and not ending in .ckpt: a leftover from a kill is never taken for a checkpoint.
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(temporary, "wb") as handle:
                torch.save(checkpoint, handle)
                handle.flush()
                os.fsync(handle.fileno())  # the bytes are on disk before the name points at them
            os.replace(temporary, path)  # atomic within one filesystem (POSIX rename)
        except BaseException as error:
            temporary.unlink(missing_ok=True)
            if is_disk_full(error):
                raise StorageError(disk_full_message(path)) from None
            raise
        sync_folder(path.parent)


def is_disk_full(error: BaseException) -> bool:
    """ENOSPC / EDQUOT, as open() and write() raise it, or as torch's zip writer reports it (a
    RuntimeError "... file write failed")."""
    if isinstance(error, OSError):
        return error.errno in (errno.ENOSPC, errno.EDQUOT)
    return isinstance(error, RuntimeError) and "write failed" in str(error)


def disk_full_message(path: Path) -> str:
    """What was not saved, what still is (the old file: saves go to a temporary file first)."""
    folder = path.parent
    kept = [
        p
        for p in sorted(folder.glob("*.ckpt"), key=lambda p: p.stat().st_mtime)
        if p.stat().st_size
    ]
    good = str(path) if path in kept else (str(kept[-1]) if kept else "none yet")
    free = shutil.disk_usage(folder).free / 1e6
    return (
        f"no space left on {folder} ({free:.0f} MB free) while saving {path.name}; last good "
        f"checkpoint: {good}. Free some space (or write runs to a larger disk with "
        "paths.output_dir=<folder>), then start the same command again to resume from it."
    )


def sync_folder(folder: Path) -> None:
    """Make the rename itself durable (where the platform allows fsync on a folder)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
