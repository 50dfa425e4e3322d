"""bp_app/compat/hydra_help.py: ``--help`` prints Hydra's own text from one repository copy."""

from __future__ import annotations

import inspect

import pytest
from hydra import initialize_config_dir
from hydra._internal import config_loader_impl
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra._internal.hydra import Hydra
from hydra._internal.utils import get_args_parser
from hydra.core.global_hydra import GlobalHydra
from hydra.types import RunMode

from bp_app.compat.hydra_help import shared_repository_help
from bp_app.config import config_dir
from bp_app.config.schema import register_schemas


@pytest.fixture
def repository_copies(monkeypatch):
    """How many times Hydra copies its config repository (one CachingConfigRepository each)."""
    copies = []
    original = config_loader_impl.CachingConfigRepository

    class Counted(original):
        def __init__(self, delegate):
            copies.append(1)
            super().__init__(delegate)

    monkeypatch.setattr(config_loader_impl, "CachingConfigRepository", Counted)
    return copies


@pytest.mark.parametrize("config_name", ["train", "eval", "predict"])
def test_help_text_is_hydras_own_from_one_repository_copy(repository_copies, config_name):
    register_schemas()
    shared_repository_help()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        hydra = GlobalHydra.instance().hydra
        cfg = hydra.compose_config(config_name, overrides=[], run_mode=RunMode.RUN)
        parser = get_args_parser()
        repository_copies.clear()
        shared = Hydra.get_help(hydra, cfg.hydra.help, cfg, parser, resolve=False)
        shared_copies = len(repository_copies)
        repository_copies.clear()
        own = Hydra.get_help.__wrapped__(hydra, cfg.hydra.help, cfg, parser, resolve=False)
        own_copies = len(repository_copies)
        assert "get_group_options" not in vars(hydra.config_loader)  # only during a help text
    assert shared == own
    assert "model: " in shared and "hydra/launcher: " in shared  # both group lists were written
    assert shared_copies == 1
    assert own_copies > 50  # what the patch saves: Hydra copies it per group listed


def test_installing_twice_wraps_hydras_help_once():
    shared_repository_help()
    wrapped = Hydra.get_help
    shared_repository_help()
    assert Hydra.get_help is wrapped
    assert not hasattr(Hydra.get_help.__wrapped__, "__wrapped__")


def test_the_private_hydra_names_it_relies_on_are_there():
    # get_group_options still builds its repository through this method, with these arguments;
    # list_groups still goes through get_group_options (so both share the one copy).
    parameters = inspect.signature(ConfigLoaderImpl._parse_overrides_and_create_caching_repo)
    assert list(parameters.parameters) == ["self", "config_name", "overrides"]
    assert "_parse_overrides_and_create_caching_repo(" in inspect.getsource(
        ConfigLoaderImpl.get_group_options
    )
    assert "self.get_group_options(" in inspect.getsource(ConfigLoaderImpl.list_groups)
    assert "self.config_loader" in inspect.getsource(Hydra.list_all_config_groups)
