"""Every option of every config group composes, passes the checks and instantiates."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import yaml
from hydra.utils import get_class, instantiate
from omegaconf import OmegaConf

from bp_app.config import config_dir
from bp_app.config.build import (
    build_callbacks,
    build_datamodule,
    build_loggers,
    build_model,
    container,
    trainer_node,
)
from bp_app.config.checks import check_train_config
from bp_app.config.choices import data_options_of_kind
from bp_app.errors import ConfigError, DataError
from bp_app.optim.factory import build_optimizer
from bp_app.optim.schedulers import build_scheduler

# Data sets that need no files or network: the ones a model option is checked with.
OFFLINE_DATA = ("digits", "negation", "sine", "airline", "digit_boxes")


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (config_dir() / group).glob("*.yaml"))


def needs_gpu(option: str) -> bool:
    text = (config_dir() / "trainer" / f"{option}.yaml").read_text()
    return "accelerator: gpu" in text or "accelerator: cuda" in text


def model_target(model_option: str) -> str:
    text = (config_dir() / "model" / f"{model_option}.yaml").read_text()
    return next(line.split(":", 1)[1].strip() for line in text.splitlines() if "_target_" in line)


def fitting_data(model_option: str) -> list[str]:
    return data_options_of_kind(get_class(model_target(model_option)).input_kind)


def offline_data_for(model_option: str) -> str:
    return next(d for d in OFFLINE_DATA if d in fitting_data(model_option))


@pytest.mark.parametrize("option", options("data"))
def test_data_option_instantiates(train_config, option, tmp_path):
    # Data that needs files still composes and builds its module: loading is lazy.
    model = next(m for m in options("model") if option in fitting_data(m))
    overrides = [f"data={option}", f"model={model}"]
    if "\npath: null" in (config_dir() / "data" / f"{option}.yaml").read_text():
        # A user's own file: without one the option says which key to set.
        with pytest.raises((ConfigError, DataError), match=r"data\.path"):
            build_datamodule(train_config(overrides)).setup("fit")
        (tmp_path / "mine.csv").write_text("text,label,value\nfine,1,1.0\n")
        overrides.append(f"data.path={tmp_path / 'mine.csv'}")
    cfg = train_config(overrides)
    check_train_config(cfg)
    datamodule = build_datamodule(cfg)
    assert isinstance(datamodule, get_class(cfg.data._target_))
    assert datamodule.kind == get_class(model_target(model)).input_kind
    for key in ("batch_size", "eval_batch_size", "seed"):  # the config's loader settings
        if key in cfg.data:
            assert getattr(datamodule.loader, key) == cfg.data[key]


@pytest.mark.parametrize("option", options("model"))
def test_model_option_builds_on_fitting_data(train_config, option):
    cfg = train_config([f"model={option}", f"data={offline_data_for(option)}"])
    check_train_config(cfg)
    datamodule = build_datamodule(cfg)
    model = build_model(cfg, datamodule)
    assert sum(p.numel() for p in model.parameters()) > 0


SCHEDULE_CLASSES = {
    "none": None,
    "step": "StepLR",
    "cosine": "CosineAnnealingLR",
    "onecycle": "OneCycleLR",
    "plateau": "ReduceLROnPlateau",
}


@pytest.mark.parametrize("group", ["optimizer", "regularization", "descent", "scheduler"])
def test_optimization_options_build(train_config, group):
    for option in options(group):
        cfg = train_config([f"{group}={option}"])
        check_train_config(cfg)
        params = [torch.nn.Parameter(torch.zeros(3, 2))]
        optimizer = build_optimizer(params, container(cfg.optimizer))
        assert type(optimizer).__module__ == "bp_app.optim.optimizers"  # impl=explicit
        assert optimizer.param_groups[0]["lr"] == cfg.optimizer.lr
        scheduler = build_scheduler(
            optimizer, container(cfg.scheduler), horizon=lambda interval: 10
        )
        expected = SCHEDULE_CLASSES[cfg.scheduler.name]
        assert (scheduler and type(scheduler).__name__) == expected
        if group == "regularization":
            assert cfg.regularization.name == option
        if group == "descent":
            assert cfg.descent.mode == option


@pytest.mark.parametrize("option", options("trainer"))
def test_trainer_option_instantiates(train_config, option):
    if needs_gpu(option) and not torch.cuda.is_available():
        pytest.skip(f"trainer={option} needs a GPU; this machine has none")
    cfg = train_config([f"trainer={option}"])
    check_train_config(cfg)
    trainer = instantiate(trainer_node(cfg), logger=False, enable_checkpointing=False)
    assert trainer.max_epochs == cfg.trainer.max_epochs


@pytest.mark.parametrize("group", ["logger", "callbacks"])
def test_logger_and_callback_options_instantiate(train_config, group):
    for option in options(group):
        cfg = train_config([f"{group}={option}"])
        check_train_config(cfg)
        built = build_loggers(cfg) if group == "logger" else build_callbacks(cfg)
        nodes = [cfg.logger] if group == "logger" else list((cfg.callbacks or {}).values())
        targets = [get_class(n._target_) for n in nodes if n and "_target_" in n]
        if not targets:
            assert built is False or built == []  # logger=none, callbacks=none
            continue
        assert len(built) == len(targets)  # the progress bar is on: nothing is left out
        for thing, cls in zip(built, targets, strict=True):
            assert isinstance(thing, cls)


def experiment_values(node: Any, prefix: str = "") -> dict[str, Any]:
    """An experiment file's plain values by dotted key (not its defaults, hydra or ${...})."""
    values: dict[str, Any] = {}
    for key, value in (node or {}).items():
        if not prefix and key in ("defaults", "hydra"):
            continue
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            values.update(experiment_values(value, f"{path}."))
        elif not (isinstance(value, str) and "${" in value):
            values[path] = value
    return values


@pytest.mark.parametrize("option", options("experiment"))
def test_experiment_composes_and_passes_checks(train_config, option):
    cfg = train_config([f"experiment={option}"])
    check_train_config(cfg)
    experiment = yaml.safe_load((config_dir() / "experiment" / f"{option}.yaml").read_text())
    for entry in experiment.get("defaults", []):
        if isinstance(entry, dict):  # "override /model: mlp" picks that option
            ((group, choice),) = entry.items()
            assert cfg.hydra.runtime.choices[group.split()[-1].lstrip("/")] == choice
    values = experiment_values(experiment)
    assert values, f"experiment={option} sets no values"
    for key, value in values.items():
        composed = OmegaConf.select(cfg, key)
        composed = OmegaConf.to_container(composed) if OmegaConf.is_config(composed) else composed
        assert composed == value, f"experiment={option}: {key}"


def test_misspelled_model_key_names_the_key_and_the_fix(train_config):
    cfg = train_config(["+model.hiden_sizes=[3]"])
    with pytest.raises(ConfigError, match=r"model\.hiden_sizes.*Did you mean 'hidden_sizes'"):
        check_train_config(cfg)


def test_wrong_type_is_a_config_error(train_config):
    with pytest.raises(ConfigError, match=r"trainer\.max_epochs='abc'.*expected int"):
        check_train_config(train_config(["trainer.max_epochs=abc"]))


def test_model_with_wrong_kind_of_data_names_the_data_that_fit(train_config):
    kinds = {get_class(model_target(m)).input_kind for m in options("model")}
    if len(kinds) < 2:
        pytest.skip("only one kind of model is installed")
    other = next(m for m in options("model") if get_class(model_target(m)).input_kind != "images")
    with pytest.raises(ConfigError, match="Choose data that fits: .*data="):
        check_train_config(train_config([f"model={other}", "data=digits"]))
