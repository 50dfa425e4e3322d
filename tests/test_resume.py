"""resume=auto picks the newest earlier run of the same command, and only if it stopped early."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from bp_app.errors import ConfigError
from bp_app.runs import resume

OVERRIDES = ["model=mlp", "trainer.max_epochs=8"]


def fake_run(
    task_dir: Path,
    name: str,
    overrides: list[str],
    when: float,
    finished: bool = False,
    task_name: str = "mlp_digits",
) -> Path:
    """A run folder as bp-train leaves it: .hydra/ (overrides, config), last.ckpt, maybe
    metrics.json."""
    run = task_dir / name
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (run / ".hydra" / "config.yaml").write_text(yaml.safe_dump({"task_name": task_name}))
    saved = [run / "checkpoints" / "last.ckpt"] + ([run / "metrics.json"] if finished else [])
    for path in saved:
        path.parent.mkdir(exist_ok=True)
        path.write_text("")
        os.utime(path, (when, when))
    return run


def config(tmp_path: Path, **keys) -> OmegaConf:
    return OmegaConf.create(
        {
            "task_name": "mlp_digits",
            "resume": "auto",
            "ckpt_path": None,
            "paths": {"output_dir": str(tmp_path), "run_dir": str(tmp_path / "mlp_digits" / "now")},
            **keys,
        }
    )


@pytest.fixture
def same_command(monkeypatch):
    monkeypatch.setattr(resume, "current_overrides", lambda: resume.comparable(OVERRIDES))


def test_newest_unfinished_run_of_the_same_command_is_resumed(tmp_path, same_command):
    task = tmp_path / "mlp_digits"
    fake_run(task, "old", OVERRIDES, when=1_000)
    newest = fake_run(task, "newer", [*reversed(OVERRIDES), "resume=auto"], when=2_000)
    fake_run(task, "other", ["model=mlp"], when=3_000)  # another command: not a candidate
    fake_run(tmp_path, "multirun/t/0", ["model=mlp", "trainer.max_epochs=9"], when=4_000)
    assert resume.resume_checkpoint(config(tmp_path)) == str(newest / "checkpoints" / "last.ckpt")


def test_a_finished_newest_run_means_start_fresh(tmp_path, same_command):
    task = tmp_path / "mlp_digits"
    fake_run(task, "stopped", OVERRIDES, when=1_000)
    fake_run(task, "resumed_and_finished", OVERRIDES, when=2_000, finished=True)
    assert resume.resume_checkpoint(config(tmp_path)) is None


def test_sweep_jobs_resume_their_own_earlier_job(tmp_path, same_command):
    # Sweeps live in <output>/multirun/<time>/<n>_.../; a job of another task is not a candidate.
    job = fake_run(tmp_path, "multirun/t/1_x", OVERRIDES, when=1_000)
    fake_run(tmp_path, "multirun/t/2_x", OVERRIDES, when=2_000, task_name="cnn_digits")
    assert resume.resume_checkpoint(config(tmp_path)) == str(job / "checkpoints" / "last.ckpt")


def test_explicit_ckpt_path_wins_and_never_starts_fresh(tmp_path, same_command):
    fake_run(tmp_path / "mlp_digits", "stopped", OVERRIDES, when=1_000)
    explicit = tmp_path / "x.ckpt"
    explicit.write_text("")
    assert resume.resume_checkpoint(config(tmp_path, ckpt_path=str(explicit))) == str(explicit)
    assert resume.resume_checkpoint(config(tmp_path, resume="never")) is None


def test_unknown_resume_mode_names_the_options(tmp_path):
    with pytest.raises(ConfigError, match="resume=auto or resume=never"):
        resume.resume_checkpoint(config(tmp_path, resume="yes"))


def test_train_config_has_the_resume_key(train_config):
    cfg = train_config(["resume=never"])
    assert cfg.resume == "never"
    assert train_config([]).resume == "auto"
