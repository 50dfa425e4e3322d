"""bp-predict for detectors: image files in, one JSON line of boxes per file out, and a copy of
each image with its boxes drawn.

Each file is resized to the detector's input size (grey or RGB as it was trained), detected,
and its boxes scaled back to the file's own pixels. A detector trained on digit canvases (light
digits on black) gets a light-background image inverted first, as the image classifier does.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from bp_app.callbacks.box_panels import draw_detections
from bp_app.errors import ConfigError, DataError
from bp_app.predictors.images import input_files


def read_image(path: Path, channels: int) -> Tensor:
    """(C, H, W) in [0, 1] at the file's own size."""
    if not path.is_file():
        raise DataError("no such file")
    try:
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("L" if channels == 1 else "RGB"), np.float32)
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise DataError(f"not a readable PNG or JPEG image ({error})") from error
    x = torch.from_numpy(pixels / 255.0)
    return x[None] if channels == 1 else x.permute(2, 0, 1)


def light_background(x: Tensor) -> bool:
    border = torch.cat([x[:, 0], x[:, -1], x[:, :, 0], x[:, :, -1]], dim=1)
    return bool(border.mean() > 0.5)


def detect_file(model: Any, x: Tensor, threshold: float | None) -> dict[str, Tensor]:
    """Detections in the file's pixels: resize to the model's input, detect, scale back."""
    height, width = model.image_size
    resized = torch.nn.functional.interpolate(
        x[None], size=(height, width), mode="bilinear", antialias=True
    )
    with torch.no_grad():
        found = model.detect(resized, threshold)[0]
    scale = torch.tensor([x.shape[2] / width, x.shape[1] / height] * 2)
    return {**found, "boxes": found["boxes"] * scale}


def output_path(path: Path, out_dir: Any) -> Path:
    folder = Path(str(out_dir)) if out_dir else path.parent
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{path.stem}_boxes.png"


def predict(model: Any, checkpoint: dict[str, Any], cfg: DictConfig) -> list[dict[str, Any]]:
    """Print one JSON line per file: {"file", "boxes": [{"category", "label", "score", "box"}],
    "drawn"}; an error line per unreadable file, then a DataError (exit status 2)."""
    threshold = cfg.get("score_threshold")
    if threshold is not None and not 0 <= threshold < 1:
        raise ConfigError(f"score_threshold must be in [0, 1), got {threshold}")
    files = input_files(cfg.get("inputs"))
    state = checkpoint["bp_app"].get("data_state") or {}
    channels = model.hparams["input_shape"][0]
    names = model.class_names
    results: list[dict[str, Any]] = []
    for path in files:
        try:
            x = read_image(path, channels)
        except DataError as error:
            print(f"{path}: error: {error}; skipped", file=sys.stderr)
            results.append({"file": str(path), "error": str(error)})
            continue
        seen = 1.0 - x if state.get("light_on_dark") and light_background(x) else x
        found = detect_file(model, seen, threshold)
        drawn = output_path(path, cfg.get("out_dir"))
        picture = draw_detections(x, found, names)  # (3, H, W) uint8, the file as it was
        Image.fromarray(picture.permute(1, 2, 0).numpy()).save(drawn)
        boxes = [
            {
                "category": names[int(label)],
                "label": int(label),
                "score": round(float(score), 4),
                "box": [round(float(v), 1) for v in box],
            }
            for box, score, label in zip(
                found["boxes"], found["scores"], found["labels"], strict=False
            )
        ]
        result = {"file": str(path), "boxes": boxes, "drawn": str(drawn)}
        print(json.dumps(result))
        results.append(result)
    failed = [r["file"] for r in results if "error" in r]
    if failed:
        raise DataError(
            f"{len(failed)} of {len(results)} inputs could not be predicted: {', '.join(failed)}"
        )
    return results
