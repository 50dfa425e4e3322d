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
        raise ConfigError(f"{path} is not a readable checkpoint ({error})") from error
    if "bp_app" not in checkpoint:
        raise ConfigError(
            f"{path} was not written by bp-train (it has no 'bp_app' record of its model and data)"
        )
    return checkpoint


def load_model(path: str | Path, checkpoint: dict[str, Any]) -> pl.LightningModule:
    """The trained model, in eval mode, on the CPU."""
    model_class = get_class(checkpoint["bp_app"]["model_target"])
    model = model_class.load_from_checkpoint(path, map_location="cpu", weights_only=True)
    return model.eval()
