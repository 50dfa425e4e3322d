"""conf/hydra/launcher/slurm.yaml composes, and with the submitit plugin makes a valid sbatch file.

No SLURM here: the sbatch text comes from submitit itself (the code the launcher runs), with a
stand-in ``srun`` on PATH because submitit checks for one before it builds anything.
"""

from __future__ import annotations

import os
import stat

import pytest
from omegaconf import OmegaConf

from tests.conftest import compose_config

OVERRIDES = [
    "hydra/launcher=slurm",
    "trainer=ddp",
    "hydra.launcher.partition=gpu",
    "hydra.launcher.nodes=2",
    "trainer.num_nodes=2",
]


@pytest.fixture
def launcher(tmp_path) -> dict:
    cfg = compose_config("train", OVERRIDES, tmp_path / "run")
    assert cfg.trainer.strategy == "ddp" and cfg.trainer.num_nodes == cfg.hydra.launcher.nodes
    return OmegaConf.to_container(cfg.hydra.launcher, resolve=True)


def test_slurm_launcher_config_composes_with_bp_train_config(launcher):
    assert launcher["_target_"].endswith("submitit_launcher.SlurmLauncher")
    assert launcher["partition"] == "gpu" and launcher["nodes"] == 2
    assert launcher["tasks_per_node"] == launcher["gpus_per_node"]  # one DDP rank per GPU
    assert launcher["signal_delay_s"] == 90 and launcher["max_num_timeout"] >= 1
    assert launcher["submitit_folder"].endswith("/.submitit/%j")
    assert "${" not in str(launcher)  # every interpolation resolved


def test_slurm_launcher_keys_are_the_plugins_and_make_an_sbatch_file(
    launcher, tmp_path, monkeypatch
):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="pip install bp_app[slurm]")
    import submitit
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf, SlurmQueueConf

    # The plugin's schema accepts every key and value of the file (types checked).
    params = {k: v for k, v in launcher.items() if k != "_target_"}
    schema = OmegaConf.structured(SlurmQueueConf)
    assert set(params) == set(schema) - {"_target_"}
    OmegaConf.merge(schema, params)

    srun = tmp_path / "bin" / "srun"
    srun.parent.mkdir()
    srun.write_text("#!/bin/sh\n")
    srun.chmod(srun.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{srun.parent}{os.pathsep}{os.environ['PATH']}")
    # The launcher's own mapping: base keys as they are, the rest prefixed with slurm_.
    executor = submitit.AutoExecutor(
        cluster="slurm",
        folder=tmp_path / "submitit",
        slurm_max_num_timeout=params.pop("max_num_timeout"),
    )
    params.pop("submitit_folder")
    base = set(OmegaConf.structured(BaseQueueConf))
    executor.update_parameters(**{k if k in base else f"slurm_{k}": v for k, v in params.items()})
    sbatch = executor._executor._make_submission_file_text("python -m bp_app.train", "uid")

    for line in (
        "--nodes=2",
        "--ntasks-per-node=4",
        "--gpus-per-node=4",
        "--partition=gpu",
        "--time=240",
        "--signal=USR2@90",
    ):
        assert f"#SBATCH {line}" in sbatch, sbatch
