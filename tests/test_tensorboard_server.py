"""A real TensorBoard server over a finished run: the scalars bp-train logged come back over its
HTTP API, started with the --logdir that bp-train prints."""

from __future__ import annotations

import json
import math
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from bp_app.train import train
from tests.conftest import FAST

WATCH = re.compile(r"Watch it live: tensorboard --logdir (\S+)")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture
def finished_run(train_config, tmp_path, capsys):
    """A tiny bp-train run, in-process; returns its metrics and the printed --logdir."""
    metrics = train(train_config([*FAST, "trainer.log_every_n_steps=1", "trainer.max_epochs=2"]))
    printed = WATCH.search(capsys.readouterr().out)
    assert printed, "bp-train prints the tensorboard command at start"
    logdir = Path(printed.group(1))
    assert logdir == (tmp_path / "run" / "tensorboard").resolve()
    return metrics, logdir


@pytest.fixture
def tensorboard(finished_run):
    """``tensorboard --logdir <printed dir>`` on a free loopback port; stopped afterwards."""
    _, logdir = finished_run
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir)]
        + ["--host", "127.0.0.1", "--port", str(port), "--load_fast", "false"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=20)


def wait_for_tags(base: str, server: subprocess.Popen, timeout: float = 120) -> dict:
    """Poll the scalar tags until the run's event files are loaded (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"tensorboard exited with {server.returncode}: {server.stderr.read()}")
        try:
            tags = get_json(f"{base}/data/plugin/scalars/tags")
            if any("val/loss" in run_tags for run_tags in tags.values()):
                return tags
        except (urllib.error.URLError, ConnectionError):
            pass  # not listening yet
        time.sleep(0.25)
    pytest.fail(f"tensorboard served no val/loss within {timeout} s")


def test_tensorboard_serves_the_runs_scalars(finished_run, tensorboard):
    metrics, _ = finished_run
    base, server = tensorboard
    tags = wait_for_tags(base, server)
    ((run, run_tags),) = tags.items()  # one run: the printed --logdir is the run's own folder
    assert {"train/loss", "train/acc", "val/loss", "val/acc", "test/acc", "lr"} <= set(run_tags)

    def scalars(tag: str) -> list[list[float]]:
        query = urllib.parse.urlencode({"run": run, "tag": tag})
        return get_json(f"{base}/data/plugin/scalars/scalars?{query}")  # [wall, step, value]

    train_loss = scalars("train/loss")
    steps = [int(step) for _, step, _ in train_loss]
    assert steps == list(range(len(steps))) and len(steps) > 10  # every step of 2 epochs
    assert all(math.isfinite(value) for _, _, value in train_loss)
    # val/loss at the last step of each of the 2 epochs; the latest is metrics.json's value.
    val_loss = {int(step): value for _, step, value in scalars("val/loss")}
    epoch_ends = [len(steps) // 2 - 1, len(steps) - 1]
    assert set(epoch_ends) <= set(val_loss)
    assert val_loss[epoch_ends[-1]] == pytest.approx(metrics["val/loss"], rel=1e-6)
    assert scalars("test/acc")[-1][2] == pytest.approx(metrics["test/acc"], rel=1e-6)
    assert server.poll() is None, "still serving after the requests"
