"""bp-predict for image classifiers: PNG / JPEG files in, one predicted class per file out.

Each file is made to look like the training data: grayscale (or RGB for 3-channel models),
resized to the model's input_shape, scaled to [0, 1], light-on-dark like MNIST and digits
(an image with a light border is inverted), then normalized with the training set's mean and
std that the checkpoint stores.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, ListConfig
from PIL import Image, UnidentifiedImageError
from torch import Tensor, nn

from bp_app.errors import ConfigError, DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}


def input_files(inputs: Any) -> list[Path]:
    """The files named by ``inputs``: a path, a list of paths, or folders (their PNG / JPEG)."""
    if inputs is None or inputs == "" or inputs == []:
        raise ConfigError(
            "bp-predict needs images for an image model: inputs=[a.png,b.png] or inputs=<folder>"
        )
    paths = list(inputs) if isinstance(inputs, (list, tuple, ListConfig)) else [inputs]
    files: list[Path] = []
    for path in map(Path, map(str, paths)):
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise ConfigError(f"inputs: the folder {path} holds no .png, .jpg or .jpeg files")
            files += found
        else:
            files.append(path)  # a missing or unreadable file is reported on its own line
    return files


def load_image(
    path: Path, input_shape: Sequence[int], normalization: dict[str, float] | None
) -> Tensor:
    """One file as the model's input, (C, H, W); raises DataError when it is not an image."""
    channels, height, width = input_shape
    if not path.is_file():
        raise DataError("no such file")
    try:
        with Image.open(path) as image:
            image = image.convert("L" if channels == 1 else "RGB")
            # Box filtering averages every source pixel: the right choice when shrinking a
            # large photo to 28x28 or 8x8.
            image = image.resize((width, height), Image.Resampling.BOX)
            pixels = np.asarray(image, dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise DataError(f"not a readable PNG or JPEG image ({error})") from error
    x = torch.from_numpy(pixels)
    x = x.unsqueeze(0) if channels == 1 else x.permute(2, 0, 1)  # (H, W) | (H, W, C) -> (C, H, W)
    border = torch.cat([x[:, 0], x[:, -1], x[:, :, 0], x[:, :, -1]], dim=1)
    if border.mean() > 0.5:  # dark digit on light paper: training digits are light on dark
        x = 1.0 - x
    if normalization:
        x = (x - normalization["mean"]) / normalization["std"]
    return x


def predict_files(
    model: nn.Module,
    files: Iterable[Path],
    input_shape: Sequence[int],
    normalization: dict[str, float] | None,
) -> list[dict[str, Any]]:
    """{"file", "label", "probability"} per readable file, {"file", "error"} per other file."""
    results: list[dict[str, Any]] = []
    images: list[Tensor] = []
    for path in files:
        try:
            images.append(load_image(path, input_shape, normalization))
            results.append({"file": str(path)})
        except DataError as error:
            results.append({"file": str(path), "error": str(error)})
    if images:
        with torch.no_grad():
            probabilities = model(torch.stack(images)).softmax(dim=1)  # (N, classes)
        confidence, labels = probabilities.max(dim=1)
        readable = (r for r in results if "error" not in r)
        for result, label, p in zip(readable, labels.tolist(), confidence.tolist(), strict=True):
            result.update(label=label, probability=p)
    return results


def predict(model: nn.Module, checkpoint: dict[str, Any], cfg: DictConfig) -> list[dict[str, Any]]:
    """Print '<file>: <label> [<class name>] (p=<probability>)' per image and an error line per
    bad file; after all files, a DataError (exit status 2) when any file could not be predicted."""
    files = input_files(cfg.get("inputs"))
    state = checkpoint["bp_app"].get("data_state") or {}
    results = predict_files(
        model, files, list(model.hparams["input_shape"]), state.get("normalization")
    )
    names = state.get("class_names")  # Fashion-MNIST's; digits are their own names
    for result in results:
        if names and "error" not in result:
            result["name"] = names[result["label"]]
        if "error" in result:
            print(f"{result['file']}: error: {result['error']}; skipped", file=sys.stderr)
        else:
            label = f"{result['label']} {result['name']}" if names else result["label"]
            print(f"{result['file']}: {label} (p={result['probability']:.4f})")
    failed = [r["file"] for r in results if "error" in r]
    if failed:
        raise DataError(
            f"{len(failed)} of {len(results)} inputs could not be predicted: {', '.join(failed)}"
        )
    return results
