"""bp-predict: a trained checkpoint on new inputs (image files, text, or a series' future)."""

from __future__ import annotations

import importlib
from typing import Any

import hydra
from omegaconf import DictConfig

from bp_app.config import config_dir
from bp_app.errors import BPAppError, user_errors
from bp_app.runs.checkpoints import load_checkpoint, load_model


def predict(cfg: DictConfig) -> list[dict[str, Any]]:
    """Load the checkpoint and hand it to the predictor for its model's kind of input."""
    checkpoint = load_checkpoint(cfg.ckpt_path)
    model = load_model(cfg.ckpt_path, checkpoint)
    kind = model.input_kind
    try:
        predictor = importlib.import_module(f"bp_app.predictors.{kind}")
    except ModuleNotFoundError as error:
        raise BPAppError(f"bp-predict does not support models that take {kind} yet") from error
    return predictor.predict(model, checkpoint, cfg)


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="predict")
def main(cfg: DictConfig) -> None:
    with user_errors("bp-predict"):
        predict(cfg)


if __name__ == "__main__":
    main()
