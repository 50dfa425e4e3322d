"""ckpt_path=last and a run directory started again: which checkpoint a run continues from."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from bp_app.errors import ConfigError
from bp_app.runs import resume


def saved_run(run: Path, when: float, finished: bool = False) -> Path:
    """A run folder with checkpoints/last.ckpt written at ``when`` (and metrics.json)."""
    last = run / "checkpoints" / "last.ckpt"
    last.parent.mkdir(parents=True)
    last.write_text("")
    os.utime(last, (when, when))
    if finished:
        (run / "metrics.json").write_text("{}")
    return last


def config(tmp_path: Path, run_dir: Path, **keys) -> OmegaConf:
    return OmegaConf.create(
        {
            "task_name": "mlp_digits",
            "resume": "auto",
            "ckpt_path": None,
            "paths": {"output_dir": str(tmp_path), "run_dir": str(run_dir)},
            **keys,
        }
    )


def test_last_is_the_newest_last_ckpt_of_the_task_whatever_its_overrides(tmp_path):
    saved_run(tmp_path / "mlp_digits" / "old", when=1_000)
    newest = saved_run(tmp_path / "mlp_digits" / "new", when=2_000, finished=True)
    saved_run(tmp_path / "cnn_digits" / "other_task", when=3_000)
    cfg = config(tmp_path, tmp_path / "mlp_digits" / "now", ckpt_path="last")
    assert resume.resume_checkpoint(cfg) == str(newest)


def test_last_prefers_this_run_directory(tmp_path):
    own = saved_run(tmp_path / "mlp_digits" / "here", when=1_000)
    saved_run(tmp_path / "mlp_digits" / "newer", when=2_000)
    cfg = config(tmp_path, tmp_path / "mlp_digits" / "here", ckpt_path="last")
    assert resume.resume_checkpoint(cfg) == str(own)


def test_last_without_any_checkpoint_says_where_it_looked(tmp_path):
    cfg = config(tmp_path, tmp_path / "mlp_digits" / "now", ckpt_path="last")
    with pytest.raises(ConfigError, match=r"no checkpoints/last.ckpt .* task 'mlp_digits' under"):
        resume.resume_checkpoint(cfg)


def test_resume_auto_continues_an_unfinished_run_in_the_same_directory(tmp_path):
    here = tmp_path / "fixed"
    own = saved_run(here, when=1_000)
    assert resume.resume_checkpoint(config(tmp_path, here)) == str(own)
    (here / "metrics.json").write_text("{}")  # finished: nothing to continue
    assert resume.resume_checkpoint(config(tmp_path, here)) is None
