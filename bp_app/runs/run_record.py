"""Store what a checkpoint needs to be used on its own: the model class, the data config, and
what the data module learned from the training split (normalization, vocabulary, scaler)."""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl


class RunRecord(pl.Callback):
    """Adds ``checkpoint["bp_app"]`` so that bp-eval and bp-predict need only the checkpoint."""

    def __init__(self, data_config: dict[str, Any]) -> None:
        self.data_config = data_config

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        cls = type(pl_module)
        datamodule = getattr(trainer, "datamodule", None)
        prediction_state = getattr(datamodule, "prediction_state", None)
        checkpoint["bp_app"] = {
            "model_target": f"{cls.__module__}.{cls.__qualname__}",
            "data": self.data_config,
            # Plain containers only: checkpoints load with torch's weights_only unpickler.
            "data_state": prediction_state() if callable(prediction_state) else {},
        }
