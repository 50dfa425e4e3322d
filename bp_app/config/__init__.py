"""Hydra configs: where they live, their schema, and the checks that run before any data loads."""

from pathlib import Path


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
