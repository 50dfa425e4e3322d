"""Before resuming: does the checkpoint belong to the model this run builds?

Lightning would find out inside ``fit`` with a ``load_state_dict`` traceback listing missing and
unexpected keys. This check says which model the checkpoint holds, which option builds it, and
which setting differs when the model is the same but its sizes are not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import yaml

from bp_app.config import config_dir
from bp_app.config.choices import check_model_fits_data
from bp_app.errors import ConfigError
from bp_app.runs.checkpoints import load_checkpoint

# Choices a resumed run may change; they do not size the weights.
TRAINING_CHOICES = {"optimizer", "scheduler", "regularization", "descent"}


def model_option(target: str) -> str:
    """The ``model=`` option whose config builds ``target`` (or the class path itself)."""
    for path in sorted((config_dir() / "model").glob("*.yaml")):
        if (yaml.safe_load(path.read_text()) or {}).get("_target_") == target:
            return f"model={path.stem}"
    return target


def differing_settings(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """'key: checkpoint <a>, this run <b>' for the hyperparameters that differ."""
    keys = sorted((set(saved) & set(current)) - TRAINING_CHOICES)
    return [
        f"{k}: checkpoint {saved[k]!r}, this run {current[k]!r}"
        for k in keys
        if saved[k] != current[k]
    ]


def check_checkpoint_fits(
    path: str | Path, model: pl.LightningModule, max_epochs: int | None = None
) -> None:
    """Raise ConfigError unless the checkpoint at ``path`` holds weights for ``model`` and has
    not trained more epochs than ``max_epochs`` (Lightning would refuse inside ``fit``)."""
    checkpoint = load_checkpoint(path)  # exists, loads with weights_only, written by bp-train
    check_epochs_left(path, checkpoint, max_epochs)
    cls = type(model)
    built = f"{cls.__module__}.{cls.__qualname__}"
    saved_target = checkpoint["bp_app"].get("model_target", "?")
    if saved_target != built:
        raise ConfigError(
            f"ckpt_path={path} holds a {saved_target.rsplit('.', 1)[-1]} "
            f"({model_option(saved_target)}), but this run builds {cls.__name__} "
            f"({model_option(built)}). Resume it with the model it was trained with "
            f"({model_option(saved_target)} and the options in that run's .hydra/config.yaml), "
            "or pass a checkpoint of this model."
        )
    saved, own = checkpoint.get("state_dict", {}), model.state_dict()
    mismatched = [k for k in own if k in saved and tuple(saved[k].shape) != tuple(own[k].shape)]
    missing = [k for k in own if k not in saved]
    unexpected = [k for k in saved if k not in own]
    if not (mismatched or missing or unexpected):
        return
    if mismatched:
        key = mismatched[0]
        problem = f"weight {key} is {tuple(saved[key].shape)} there, {tuple(own[key].shape)} here"
    else:
        problem = f"weights {', '.join((missing or unexpected)[:3])} are in only one of them"
    settings = differing_settings(
        dict(checkpoint.get("hyper_parameters", {})), dict(getattr(model, "hparams", {}))
    )
    hint = f" Settings that differ: {'; '.join(settings)}." if settings else ""
    raise ConfigError(
        f"ckpt_path={path} holds a {cls.__name__} of another size ({problem}).{hint} Use the "
        "model and data options of the run that wrote it (its .hydra/config.yaml), or a "
        "checkpoint of this model."
    )


def check_epochs_left(path: str | Path, checkpoint: dict[str, Any], max_epochs: int | None) -> None:
    """A shorter trainer.max_epochs than the checkpoint's completed epochs cannot continue it."""
    if max_epochs is None or max_epochs < 0:  # -1: no limit; below: the trainer refuses it
        return
    progress = checkpoint.get("loops", {}).get("fit_loop", {}).get("epoch_progress", {})
    completed = progress.get("current", {}).get("completed", checkpoint.get("epoch", 0))
    if completed > max_epochs:
        raise ConfigError(
            f"ckpt_path={path} has completed {completed} epochs, more than "
            f"trainer.max_epochs={max_epochs}, so this run has no epoch left to train. Set "
            f"trainer.max_epochs={completed + 1} or more to continue it, or test it as it is: "
            f"bp-eval ckpt_path={path}"
        )


# What the data sizes in a model; the scaler is the data's own (another series may be scaled
# differently and still fit the model).
NOT_SIZES = {"scaler"}


def check_data_fits_checkpoint(
    path: str | Path, checkpoint: dict[str, Any], datamodule: pl.LightningDataModule
) -> None:
    """bp-eval data=<other>: the data must be of the model's kind and of its sizes (image shape,
    classes, vocabulary, lookback), or the test would crash inside the first forward pass."""
    data_class = type(datamodule)
    saved_target = checkpoint["bp_app"]["model_target"]
    check_model_fits_data(saved_target, f"{data_class.__module__}.{data_class.__qualname__}")
    saved = dict(checkpoint.get("hyper_parameters", {}))
    wanted = datamodule.model_inputs()
    differ = [
        f"{key}: checkpoint {saved[key]!r}, data {value!r}"
        for key, value in wanted.items()
        if key in saved and key not in NOT_SIZES and plain(saved[key]) != plain(value)
    ]
    if differ:
        raise ConfigError(
            f"ckpt_path={path} holds a model of other sizes than this data gives "
            f"({'; '.join(differ)}). Evaluate it on the data it was trained on (leave data= out) "
            "or on data of the same shape."
        )


def plain(value: Any) -> Any:
    return list(value) if isinstance(value, (list, tuple)) else value
