"""bp-predict: a trained checkpoint on new inputs (image files, text, or a series' future)."""

from __future__ import annotations

import importlib
from typing import Any

import hydra
from omegaconf import DictConfig

from bp_app.compat.hydra_help import shared_repository_help
from bp_app.config import config_dir
from bp_app.errors import BPAppError, ConfigError, user_errors
from bp_app.runs.checkpoints import load_checkpoint, load_model

shared_repository_help()  # --help copies Hydra's config repository once, not per group

# What each kind of model predicts from; the other options would be silently ignored.
OPTIONS_BY_KIND = {
    "images": ("inputs", "image files or a folder, e.g. inputs=[a.png,b.png]"),
    "tokens": ("text", "inputs", 'a text or a file of texts, e.g. text="not bad at all"'),
    "windows": ("steps", "how far past the end of its series to forecast, e.g. steps=24"),
}
PREDICT_OPTIONS = ("inputs", "text", "steps")


def check_options_fit(cfg: DictConfig, kind: str) -> None:
    """inputs=[a.png] for a forecaster (or steps= for an image model) is refused, not ignored."""
    *used, example = OPTIONS_BY_KIND.get(kind, (*PREDICT_OPTIONS, ""))
    for option in PREDICT_OPTIONS:
        if option not in used and cfg.get(option) is not None:
            raise ConfigError(
                f"{option}={cfg.get(option)} does not fit this checkpoint: its model takes "
                f"{kind} and predicts from {' or '.join(f'{u}=' for u in used)} ({example}). "
                f"Drop {option}=, or pass a checkpoint of a model that takes it."
            )


def predict(cfg: DictConfig) -> list[dict[str, Any]]:
    """Load the checkpoint and hand it to the predictor for its model's kind of input."""
    checkpoint = load_checkpoint(cfg.ckpt_path)
    model = load_model(cfg.ckpt_path, checkpoint)
    kind = model.input_kind
    check_options_fit(cfg, kind)
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
