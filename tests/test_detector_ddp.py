"""The detector under ``trainer=ddp_cpu`` (2 gloo ranks): each rank detects on its own half of
the test canvases, and test/map is computed over both halves' predictions together."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torchmetrics.detection import MeanAveragePrecision

from bp_app.data.box_sets import unpad
from bp_app.data.digit_boxes import DigitBoxesDataModule
from bp_app.models.detection_metric import MAP_BACKEND
from bp_app.models.detector import DetectorModule
from tests.conftest import FAST, ONE_THREAD

BP_TRAIN = shutil.which("bp-train", path=str(Path(sys.executable).parent))
DATA = {"train_size": 160, "val_size": 16, "test_size": 41, "split_seed": 0}  # 41: uneven shards


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("detector_ddp")
    args = [
        *FAST,
        "trainer=ddp_cpu",
        "experiment=detect_digits",
        *(f"data.{key}={value}" for key, value in DATA.items()),
        "data.batch_size=8",
        "trainer.max_epochs=3",
        "callbacks.gradient_flow=null",
        "callbacks.box_panels=null",
        f"hydra.run.dir={tmp / 'run'}",
    ]
    env = {**os.environ, **ONE_THREAD}
    result = subprocess.run(
        [BP_TRAIN, *args], cwd=tmp, capture_output=True, text=True, timeout=300, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "MEMBER: 2/2" in result.stderr
    return tmp / "run"


def map_of(model: DetectorModule, images, boxes, labels) -> float:
    metric = MeanAveragePrecision(backend=MAP_BACKEND)
    with torch.no_grad():
        metric.update(model.detect(images), unpad(boxes, labels))
    return float(metric.compute()["map"])


def test_test_map_covers_both_ranks_predictions(ddp_run):
    metrics = json.loads((ddp_run / "metrics.json").read_text())
    best = next((ddp_run / "checkpoints").glob("best-*.ckpt"))  # the checkpoint the test used
    model = DetectorModule.load_from_checkpoint(best, map_location="cpu", weights_only=True).eval()
    images, boxes, labels = DigitBoxesDataModule(**DATA).load_splits()["test"]
    whole = map_of(model, images, boxes, labels)
    # It learned something, so the comparison below is between real detections.
    assert metrics["test/map_50"] > 0.05, metrics
    assert metrics["test/map"] == pytest.approx(whole, abs=1e-6)
    # Each rank alone (every second canvas, as the loader shards them) scores otherwise: a
    # metric computed per rank and averaged would not match the whole set's value.
    shards = [map_of(model, images[r::2], boxes[r::2], labels[r::2]) for r in (0, 1)]
    assert all(abs(shard - whole) > 1e-4 for shard in shards), (shards, whole)
    assert sum(shards) / 2 != pytest.approx(whole, abs=1e-4)
