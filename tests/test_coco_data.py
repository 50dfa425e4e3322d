"""data=coco on small COCO-format folders the tests write: the reader, a training run on it,
category names through the checkpoint, and every bad input as one clear error."""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from bp_app.data.coco import CocoDataModule
from bp_app.errors import DataError
from bp_app.train import train
from tests.conftest import FAST, REPO, compose_config, run_command

CATEGORIES = [{"id": 7, "name": "square"}, {"id": 3, "name": "bar"}]  # ids out of order


def coco_split(root: Path, name: str, count: int, seed: int) -> dict[str, Any]:
    """``count`` 40x32 RGB images, each with a bright square (category 7) and a bar (3); the
    last one is empty: a background image."""
    rng = np.random.default_rng(seed)
    images, annotations = [], []
    (root / "images" / name).mkdir(parents=True, exist_ok=True)
    for index in range(count):
        pixels = np.zeros((32, 40, 3), np.uint8)
        if index < count - 1:
            x, y = (int(v) for v in rng.integers(0, 16, 2))
            pixels[y : y + 12, x : x + 12] = 255
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": index,
                    "category_id": 7,
                    "bbox": [x, y, 12, 12],
                }
            )
            pixels[24:30, 26:38, 1] = 200
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": index,
                    "category_id": 3,
                    "bbox": [26, 24, 12, 6],
                }
            )
        file_name = f"{name}/{index:03d}.png"
        Image.fromarray(pixels).save(root / "images" / file_name)
        images.append({"id": index, "file_name": file_name, "width": 40, "height": 32})
    return {"images": images, "annotations": annotations, "categories": CATEGORIES}


def write_coco(root: Path, edit: Callable[[dict], Any] | None = None) -> Path:
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    for name, count, seed in (("train", 24, 0), ("val", 8, 1)):
        data = coco_split(root, name, count, seed)
        if edit is not None and name == "train":
            edited = edit(data)  # edits in place; returns text to write a broken file
            data = edited if isinstance(edited, str) else data
        path = root / "annotations" / f"{name}.json"
        path.write_text(data if isinstance(data, str) else json.dumps(data, indent=1))
    return root


def test_reader_maps_categories_to_contiguous_labels_and_scales_boxes(tmp_path, caplog):
    root = write_coco(tmp_path / "coco")
    data = CocoDataModule(root=str(root), image_size=16, channels=1)
    with caplog.at_level(logging.INFO, logger="bp_app.data.coco"):
        inputs = data.model_inputs()
    assert inputs == {"input_shape": [1, 16, 16], "class_names": ["bar", "square"]}  # id 3, 7
    assert "train: 24 images, 46 boxes, 1 background images" in caplog.text
    images, boxes, labels = data.splits["train"]
    assert images.shape == (24, 1, 16, 16) and float(images.max()) <= 1.0
    first = json.loads((root / "annotations" / "train.json").read_text())["annotations"][0]
    x, y, w, h = first["bbox"]
    expected = torch.tensor([x * 16 / 40, y * 16 / 32, (x + w) * 16 / 40, (y + h) * 16 / 32])
    torch.testing.assert_close(boxes[0, 0], expected)
    assert labels[0].tolist() == [1, 0]  # square (id 7) -> 1, bar (id 3) -> 0
    assert labels[-1].tolist() == [-1, -1]  # the background image: padding only
    assert torch.equal(data.splits["test"][0], data.splits["val"][0])  # no test file: val


def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


QUICK = [*FAST, "callbacks.gradient_flow=null", "callbacks.box_panels=null", "model=detector"]


@pytest.fixture(scope="module")
def earlier_run(tmp_path_factory) -> Path:
    """A finished bp-train run on a COCO folder: the run every bad input must leave alone."""
    tmp = tmp_path_factory.mktemp("coco_run")
    root = write_coco(tmp / "coco")
    overrides = [
        *QUICK,
        "data=coco",
        f"data.root={root}",
        "data.image_size=32",
        "data.batch_size=8",
    ]
    metrics = train(compose_config("train", overrides, tmp / "run"))
    assert {"val/map", "test/map_50"} <= set(metrics)
    checkpoint = torch.load(tmp / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["hyper_parameters"]["class_names"] == ["bar", "square"]
    assert checkpoint["bp_app"]["data_state"]["class_names"] == ["bar", "square"]
    return tmp / "run"


def drop_key(key: str, where: str = "annotations") -> Callable[[dict], None]:
    def edit(data: dict) -> None:
        del data[where][0][key]

    return edit


def set_annotation(**values: Any) -> Callable[[dict], None]:
    return lambda data: data["annotations"][2].update(values)


def unreadable_image(data: dict) -> None:
    data["images"][1]["file_name"] = "broken.png"


BAD = {
    "json": (lambda data: json.dumps(data)[:-20] + "\n", r"not valid JSON at line 2, column 1"),
    "top_key": (
        lambda data: data.pop("categories") and None,
        r"top-level object has no 'categories'",
    ),
    "annotation_key": (drop_key("bbox"), r"annotations\[0\] has no 'bbox' key"),
    "image_key": (drop_key("file_name", "images"), r"images\[0\] has no 'file_name' key"),
    "missing_image": (
        lambda data: data["images"][3].update(file_name="train/gone.png"),
        r"images\[3\] \(id 3\) names .*gone.png, which does not exist",
    ),
    "unreadable_image": (
        unreadable_image,
        r"images\[1\] \(id 1\) names .*broken.png, which is not",
    ),
    "zero_width": (set_annotation(bbox=[1, 1, 0, 5]), r"annotations\[2\] \(id 3\).*non-positive"),
    "outside": (set_annotation(bbox=[30, 2, 12, 5]), r"annotations\[2\].*outside its 40x32"),
    "category": (set_annotation(category_id=99), r"annotations\[2\].*category_id 99, which is"),
    "image_id": (set_annotation(image_id=500), r"annotations\[2\].*image_id 500, which no"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_coco_input_fails_clearly_and_keeps_the_earlier_run(case, earlier_run, tmp_path):
    edit, expect = BAD[case]
    root = write_coco(tmp_path / "coco", copy.deepcopy(edit))
    (root / "images" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    before = snapshot(earlier_run)
    overrides = [*QUICK, "data=coco", f"data.root={root}", "data.image_size=32"]
    with pytest.raises(DataError, match=expect) as error:
        train(compose_config("train", overrides, tmp_path / "run"))
    assert str(root / "annotations" / "train.json") in str(error.value)  # names the file
    assert snapshot(earlier_run) == before
    assert not list((tmp_path / "run").rglob("*.ckpt"))


def test_cli_prints_one_error_line_and_exits_2(tmp_path):
    root = write_coco(tmp_path / "coco", set_annotation(bbox=[1, 1, -3, 5]))
    result = run_command(
        "bp_app.train",
        [*QUICK, "data=coco", f"data.root={root}", f"hydra.run.dir={tmp_path / 'run'}"],
        cwd=REPO,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("bp-train: error:")]
    assert len(errors) == 1 and "non-positive size" in errors[0] and "train.json" in errors[0]
    assert "Traceback" not in result.stderr
