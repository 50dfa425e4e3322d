"""Every experiment composes with every data set of its input kind, or fails naming the pair."""

from __future__ import annotations

import pytest
import yaml
from hydra.utils import get_class

from bp_app.config import config_dir
from bp_app.config.checks import check_train_config
from bp_app.config.choices import data_options_of_kind
from bp_app.config.keys import accepted_keywords
from bp_app.errors import ConfigError

EXPERIMENTS = sorted(p.stem for p in (config_dir() / "experiment").glob("*.yaml"))


def data_keys_set_by(experiment: str) -> set[str]:
    tree = yaml.safe_load((config_dir() / "experiment" / f"{experiment}.yaml").read_text())
    return set((tree.get("data") or {}).keys())


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_with_each_data_set_of_its_kind(train_config, experiment):
    model = get_class(train_config([f"experiment={experiment}"]).model._target_)
    options = data_options_of_kind(model.input_kind)
    assert options, f"no data set gives {model.input_kind}"
    for data in options:
        cfg = train_config([f"experiment={experiment}", f"data={data}"])
        takes = accepted_keywords(get_class(cfg.data._target_))
        foreign = sorted(data_keys_set_by(experiment) - takes) if takes is not None else []
        if not foreign:
            check_train_config(cfg)  # composes and passes every check
            continue
        with pytest.raises(ConfigError) as error:
            check_train_config(cfg)
        message = str(error.value)
        assert f"Unknown config key 'data.{foreign[0]}'" in message or any(
            f"'data.{key}'" in message for key in foreign
        )
        assert f"(set by conf/experiment/{experiment}.yaml)" in message
        assert f"experiment={experiment} does not fit data={data}" in message


def test_the_issues_example_blames_the_experiment_not_the_data(train_config):
    cfg = train_config(["experiment=seed_keras_cnn", "data=synthetic"])
    with pytest.raises(
        ConfigError,
        match=r"data.val_size' \(set by conf/experiment/seed_keras_cnn"
        r".yaml\): experiment=seed_keras_cnn does not fit data=synthetic.*"
        r"written for data=mnist",
    ):
        check_train_config(cfg)


def test_a_key_from_the_command_line_is_blamed_on_the_command_line(train_config):
    cfg = train_config(["+data.batchsize=3"])
    with pytest.raises(ConfigError, match=r"set by the command line \(\+data.batchsize=3\)"):
        check_train_config(cfg)
    cfg = train_config(["+model.hiden_sizes=[3]"])
    with pytest.raises(ConfigError, match="Did you mean 'hidden_sizes'"):
        check_train_config(cfg)
