"""Commands that do not train answer before torch and Lightning load, with the usual messages;
the early key check reads the same keys from bp_app's sources as the full one from the classes;
trainer.threads picks torch's threads. (Times are bp-bench's business; this checks the imports.)
"""

from __future__ import annotations

import glob
import re
from pathlib import Path

import pytest
import torch
import yaml
from hydra.utils import get_object

from bp_app.config import config_dir
from bp_app.config.keys import accepted_keywords
from bp_app.config.signatures import static_keywords
from bp_app.runs import threads
from tests.conftest import run_command

HEAVY = ("torch", "pytorch_lightning", "torchvision", "matplotlib", "tensorboard")
# Every module the import log lists, at any depth: torch pulled in by a bp_app module counts too.
IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)$", re.MULTILINE)


@pytest.mark.parametrize(
    "module, args, status, message",
    [
        ("bp_app.train", ["--help"], 0, "== Config =="),
        ("bp_app.train", ["--cfg", "job"], 0, "optimizer:"),
        ("bp_app.train", ["+model.hiden_sizes=[3]"], 2, "Did you mean 'hidden_sizes'?"),
        ("bp_app.train", ["+optimizer.lrr=0.1"], 2, "optimizer.lrr is not a hyperparameter"),
        ("bp_app.train", ["optimizer.lr=-1"], 2, "optimizer.lr=-1 is out of range"),
        ("bp_app.train", ["trainer.threads=0"], 2, "trainer.threads=0 is out of range"),
        ("bp_app.train", ["model=mlpp"], 1, "Could not find 'model/mlpp'"),
        ("bp_app.evaluate", ["ckpt_path=missing.ckpt"], 2, "ckpt_path='missing.ckpt' does not"),
    ],
)
def test_commands_that_do_not_train_import_no_torch(tmp_path, module, args, status, message):
    result = run_command(module, args, cwd=tmp_path, env={"PYTHONPROFILEIMPORTTIME": "1"})
    output = result.stdout + result.stderr
    assert result.returncode == status, output[-3000:]
    assert message in output
    imported = {name.split(".")[0] for name in IMPORTED.findall(result.stderr)}
    assert "hydra" in imported  # the import log was read
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))


def config_targets() -> set[str]:
    """Every _target_ in conf/."""
    found: set[str] = set()

    def visit(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("_target_"), str):
                found.add(node["_target_"])
            for child in node.values():
                visit(child)
        elif isinstance(node, list):
            for child in node:
                visit(child)

    for path in glob.glob(str(config_dir() / "**" / "*.yaml"), recursive=True):
        visit(yaml.safe_load(Path(path).read_text()))
    return found


def test_keys_read_from_the_source_are_the_classes_keys():
    """Where the early check knows a class's keys, they are the full check's; it knows every
    model's, data module's and bp_app callback's."""
    known = 0
    for target in sorted(config_targets()):
        static = static_keywords(target)
        if static is None:
            assert not target.startswith(("bp_app.models.", "bp_app.data.", "bp_app.callbacks.")), (
                target
            )
            continue
        assert static == accepted_keywords(get_object(target)), target
        known += 1
    assert known >= 15
    assert static_keywords("pytorch_lightning.Trainer") is None  # not bp_app's: not read


def test_threads_setting(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert threads.choose_threads(3) == 3
    assert threads.choose_threads("torch") is None
    assert 1 <= threads.choose_threads("auto") <= threads.available_cores()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert threads.choose_threads("auto") is None  # the user's OMP_NUM_THREADS is kept
    previous = torch.get_num_threads()
    try:
        assert threads.apply_threads(2) == torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)


def test_auto_counts_the_idle_cores(monkeypatch):
    """Two cores, one busy with another process in the sampled window: one thread."""
    samples = iter([(1000, 4000), (1100, 4200)])  # (busy, total) ticks: half of 200 was busy
    monkeypatch.setattr(threads, "busy_and_total", lambda: next(samples))
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    monkeypatch.setattr(threads.time, "sleep", lambda seconds: None)
    assert threads.idle_cores() == pytest.approx(1.0)
    samples = iter([(1000, 4000), (1000, 4200)])  # nothing else running
    assert threads.auto_threads() == 2
