"""Where a config key was set: the command line, the chosen experiment, or its group's file.

An unknown key's message names the place to fix. When an experiment sets a data key that the
chosen data set does not take, the message names the pair (experiment=..., data=...) and the
data the experiment is written for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bp_app.config import config_dir


def _yaml(path: Path) -> dict[str, Any]:
    try:
        return yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return {}


def _sets(tree: dict[str, Any], dotted: str) -> bool:
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


class KeySources:
    """The runtime choices and command-line overrides of one composed config."""

    def __init__(self, choices: dict[str, str] | None = None, overrides: list[str] | None = None):
        self.choices = {k: v for k, v in (choices or {}).items() if v}
        self.overrides = list(overrides or [])

    @classmethod
    def from_hydra(cls) -> KeySources:
        try:
            from hydra.core.hydra_config import HydraConfig

            hydra = HydraConfig.get()
        except Exception:  # composed without Hydra's runtime (some tests): no file names
            return cls()
        return cls(dict(hydra.runtime.choices), list(hydra.overrides.task))

    @property
    def experiment(self) -> str | None:
        return self.choices.get("experiment")

    def experiment_sets(self, dotted: str) -> bool:
        if not self.experiment:
            return False
        return _sets(_yaml(config_dir() / "experiment" / f"{self.experiment}.yaml"), dotted)

    def of(self, where: str, key: str) -> str | None:
        """'the command line (data.x=1)', 'conf/experiment/e.yaml' or 'conf/data/d.yaml'."""
        dotted = f"{where}.{key}"
        for override in self.overrides:
            if override.split("=", 1)[0].lstrip("+~") == dotted:
                return f"the command line ({override})"
        if self.experiment_sets(dotted):
            return f"conf/experiment/{self.experiment}.yaml"
        group = where.split(".")[0].split("[")[0]
        choice = self.choices.get(group)
        return f"conf/{group}/{choice}.yaml" if choice else None

    def pair_advice(self, where: str, key: str) -> str:
        """For a data key an experiment set: the pair that does not fit, and what does."""
        group = where.split(".")[0]
        if group != "data" or not self.experiment_sets(f"{where}.{key}"):
            return ""
        defaults = _yaml(config_dir() / "experiment" / f"{self.experiment}.yaml").get("defaults")
        written_for = next(
            (
                e["override /data"]
                for e in defaults or []
                if isinstance(e, dict) and "override /data" in e
            ),
            None,
        )
        fits = f" It is written for data={written_for}." if written_for else ""
        return (
            f" experiment={self.experiment} does not fit data={self.choices.get('data')}: the "
            f"experiment sets {where}.{key}, which that data set does not take.{fits}"
        )
