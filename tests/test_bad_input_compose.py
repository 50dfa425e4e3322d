"""Mistakes Hydra itself reports while composing the configuration: an option that does not exist
and a misspelled top-level key in a user's YAML file (the bad-input matrix's composition cases).
"""

from __future__ import annotations

import pytest
from hydra.errors import ConfigCompositionException, MissingConfigException

from tests.conftest import compose_config


def test_unknown_group_option_lists_the_options(tmp_path):
    with pytest.raises(MissingConfigException) as error:
        compose_config("train", ["model=perceptron"], tmp_path / "run")
    assert "Could not find 'model/perceptron'" in str(error.value) and "mlp" in str(error.value)


def test_misspelled_top_level_key_in_a_yaml_file(tmp_path):
    experiments = tmp_path / "user_conf" / "experiment"
    experiments.mkdir(parents=True)
    (experiments / "mine.yaml").write_text("# @package _global_\nseeed: 3\n")
    searchpath = f"hydra.searchpath=[file://{experiments.parent}]"
    with pytest.raises(ConfigCompositionException, match="Key 'seeed' not in 'TrainSchema'"):
        compose_config("train", [searchpath, "experiment=mine"], tmp_path / "run")
