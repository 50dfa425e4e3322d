"""Checkpoints are written atomically: a save that dies half-way leaves the previous file whole."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from bp_app.runs import checkpoint_io
from bp_app.runs.checkpoint_io import AtomicCheckpointIO
from bp_app.train import train
from tests.conftest import FAST, REPO

OLD = {"state_dict": {"w": torch.zeros(1000)}, "global_step": 1}
NEW = {"state_dict": {"w": torch.ones(1000)}, "global_step": 2}


def test_a_save_that_fails_half_way_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "checkpoints" / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint(OLD, path)

    def dies_half_way(obj, handle):
        handle.write(b"PK\x03\x04 half a zip archive")  # what a kill leaves: a partial file
        raise KeyboardInterrupt  # the run stopped in the middle of writing

    monkeypatch.setattr(checkpoint_io.torch, "save", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        AtomicCheckpointIO().save_checkpoint(NEW, path)
    assert torch.load(path, weights_only=True)["global_step"] == 1
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"], "no temporary left behind"


# A child process that saves a large checkpoint over and over; it is killed with SIGKILL, which
# no handler can catch, most likely in the middle of a write (the writes are most of its time).
SAVER = """
import sys, torch
from bp_app.runs.checkpoint_io import AtomicCheckpointIO
io, path = AtomicCheckpointIO(), sys.argv[1]
step = 0
while True:
    step += 1
    weights = torch.full((4_000_000,), float(step))
    io.save_checkpoint({"state_dict": {"w": weights}, "step": step}, path)
    print(step, flush=True)
"""


def test_a_kill_during_saves_leaves_a_readable_checkpoint(tmp_path):
    path = tmp_path / "last.ckpt"
    saver = subprocess.Popen(
        [sys.executable, "-c", SAVER, str(path)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert saver.stdout is not None
    saver.stdout.readline()  # one save done
    saver.stdout.readline()  # and another: the third is under way
    time.sleep(0.05)
    saver.send_signal(signal.SIGKILL)
    saver.wait(timeout=30)
    checkpoint = torch.load(path, weights_only=True)
    weights = checkpoint["state_dict"]["w"]
    assert torch.equal(weights, torch.full_like(weights, float(checkpoint["step"])))


def test_bp_train_saves_through_the_atomic_plugin(train_config, tmp_path, monkeypatch):
    saved: list[Path] = []
    original = AtomicCheckpointIO.save_checkpoint

    def record(self, checkpoint, path, storage_options=None):
        saved.append(Path(path))
        original(self, checkpoint, path, storage_options)

    monkeypatch.setattr(AtomicCheckpointIO, "save_checkpoint", record)
    train(train_config([*FAST, "logger=none", "test=false"]))
    assert tmp_path / "run" / "checkpoints" / "last.ckpt" in saved
    assert not list((tmp_path / "run").rglob("*.tmp"))
