"""Reading bp_app checkpoints: the model class and data config they carry (see RunRecord)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.utils import get_class

from bp_app.errors import ConfigError
from bp_app.runs.layout import existing_checkpoint


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint's contents, loaded with torch's safe ``weights_only`` unpickler."""
    path = existing_checkpoint(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ConfigError(
            f"{path} is not a readable checkpoint: {unreadable(path, error)}"
        ) from None
    if not isinstance(checkpoint, dict) or "bp_app" not in checkpoint:
        raise ConfigError(
            f"{path} was not written by bp-train (it has no 'bp_app' record of its model and data)"
        )
    return checkpoint


def unreadable(path: Path, error: Exception) -> str:
    """Why torch could not load ``path``, and what to use instead.

    torch's own message for a file its safe unpickler refuses advises ``weights_only=False``,
    which would run whatever code the file holds: that advice is never passed on.
    """
    size = path.stat().st_size
    if size == 0:
        reason = "it is empty (0 bytes), as a save cut off by a kill or a full disk leaves it"
    elif "central directory" in str(error) or zipped(path) or isinstance(error, EOFError):
        reason = f"it is cut short or damaged ({size:,} bytes, its zip index is missing)"
    elif isinstance(error, OSError):  # the file could not be read: say what the system said
        reason = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else '-'}"
    else:  # not a zip: torch's legacy unpickler fails on other bytes in many ways
        reason = (
            "it is not a PyTorch checkpoint of weights and numbers (bp_app loads checkpoints "
            "only with torch's safe loader, which refuses anything that could run code)"
        )
    others = [p for p in sorted(path.parent.glob("*.ckpt")) if p != path and p.stat().st_size]
    if others:
        return f"{reason}. Use another checkpoint beside it: ckpt_path={others[0]}"
    return f"{reason}. Pass another checkpoint with ckpt_path=, or start fresh without it."


def load_model(path: str | Path, checkpoint: dict[str, Any]) -> pl.LightningModule:
    """The trained model, in eval mode, on the CPU."""
    model_class = get_class(checkpoint["bp_app"]["model_target"])
    model = model_class.load_from_checkpoint(path, map_location="cpu", weights_only=True)
    return model.eval()


def zipped(path: Path) -> bool:
    """torch.save writes a zip archive: a file that starts like one but does not load is cut
    short or damaged."""
    with path.open("rb") as handle:
        return handle.read(4) == b"PK\x03\x04"
