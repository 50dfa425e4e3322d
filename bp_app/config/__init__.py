"""Hydra configs: where they live, their schema, and the checks that run before any data loads."""

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf


def config_dir() -> Path:
    """conf/ inside the installed package (wheel, container) or at the top of a checkout."""
    package_dir = Path(__file__).resolve().parents[1]
    for candidate in (package_dir / "conf", package_dir.parent / "conf"):
        if (candidate / "train.yaml").is_file():
            return candidate
    raise FileNotFoundError(
        f"bp_app's conf/ folder was not found beside {package_dir}; "
        "reinstall bp_app (pip install .)"
    )


def container(node: Any) -> Any:
    """A plain dict / list copy of a config node, interpolations resolved (checkpoint-safe)."""
    if node is None:
        return None
    if isinstance(node, DictConfig) or OmegaConf.is_config(node):
        return OmegaConf.to_container(node, resolve=True)
    return node
