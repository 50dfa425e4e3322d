"""``--help`` lists config groups from one copy of Hydra's config repository (Hydra 1.3, private).

Hydra's help lists every config group and its options through
``ConfigLoaderImpl.get_group_options``, and each call deep-copies the whole config repository
(``_parse_overrides_and_create_caching_repo`` builds a ``CachingConfigRepository``): about 110
copies for bp_app's conf/, most of ``bp-train --help``'s time. While one help text is being
written nothing changes the repository, so ``shared_repository_help`` makes that text's calls
share one copy per (config name, overrides). The text is the same; ``tests/test_compat.py``
compares it with Hydra's own and pins the private names used here.
"""

from __future__ import annotations

from typing import Any

from hydra._internal.hydra import Hydra
from hydra.core.object_type import ObjectType

MARK = "_bp_app_one_repository"


def one_repository_options(loader: Any) -> Any:
    """``loader.get_group_options`` with the caching repository built once per arguments."""
    repositories: dict[tuple[str | None, tuple[str, ...]], Any] = {}

    def get_group_options(
        group_name: str,
        results_filter: ObjectType | None = ObjectType.CONFIG,
        config_name: str | None = None,
        overrides: list[str] | None = None,
    ) -> list[str]:
        key = (config_name, tuple(overrides or ()))
        if key not in repositories:
            _, repositories[key] = loader._parse_overrides_and_create_caching_repo(
                config_name, list(key[1])
            )
        return repositories[key].get_group_options(group_name, results_filter)

    return get_group_options


def shared_repository_help() -> None:
    """Make ``Hydra.get_help`` (app and Hydra help) list groups from one repository copy."""
    original = Hydra.get_help
    if getattr(original, MARK, False):
        return

    def get_help(self: Hydra, *args: Any, **kwargs: Any) -> str:
        loader = self.config_loader
        # An instance attribute, for this help text only: list_groups calls it too.
        loader.get_group_options = one_repository_options(loader)
        try:
            return original(self, *args, **kwargs)
        finally:
            del loader.get_group_options

    setattr(get_help, MARK, True)
    get_help.__wrapped__ = original  # Hydra's own, for tests/test_compat_hydra.py
    Hydra.get_help = get_help
