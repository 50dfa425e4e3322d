"""Reading a COCO-format annotations file, checked entry by entry.

The file holds ``images`` (id, file_name), ``annotations`` (image_id, category_id, bbox as
x, y, width, height in pixels) and ``categories`` (id, name). Every mistake names the file, the
entry and the fix; an image without annotations is allowed (a background image) and counted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from bp_app.errors import DataError

EDGE_TOLERANCE = 1e-3  # pixels: a box may touch its image's edge up to float rounding


@dataclass
class CocoImage:
    """One image: its file, its size in pixels, its boxes (x1, y1, x2, y2) and category ids."""

    path: Path
    width: int
    height: int
    boxes: list[list[float]] = field(default_factory=list)
    category_ids: list[int] = field(default_factory=list)


def read_json(path: Path) -> Any:
    if not path.is_file():
        raise DataError(
            f"{path}: annotations file not found. Point data.root at the folder that holds it, "
            "or set the data.*_annotations path relative to data.root."
        )
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as error:
        raise DataError(
            f"{path}: not valid JSON at line {error.lineno}, column {error.colno} ({error.msg}). "
            "Fix the file there (a COCO annotations file is one JSON object)."
        ) from None
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text ({error}); save it as UTF-8 JSON") from None


def require(entry: Any, keys: tuple[str, ...], where: str, path: Path) -> None:
    if not isinstance(entry, dict):
        raise DataError(f"{path}: {where} is {type(entry).__name__}, not a JSON object")
    for key in keys:
        if key not in entry:
            raise DataError(
                f"{path}: {where} has no '{key}' key (it needs {', '.join(keys)}). "
                f"Add '{key}' to that entry."
            )


def read_categories(data: dict[str, Any], path: Path) -> dict[int, str]:
    """{category id: name}, in the file's order."""
    categories: dict[int, str] = {}
    for index, entry in enumerate(data["categories"]):
        require(entry, ("id", "name"), f"categories[{index}]", path)
        categories[int(entry["id"])] = str(entry["name"])
    if not categories:
        raise DataError(f"{path}: 'categories' is empty; list at least one {{id, name}}")
    return categories


def image_size(file: Path, where: str, path: Path) -> tuple[int, int]:
    if not file.is_file():
        raise DataError(
            f"{path}: {where} names {file}, which does not exist. Put the image there, fix its "
            "file_name, or point data.image_dir at the folder that holds the images."
        )
    try:
        with Image.open(file) as image:
            image.verify()  # reads the whole file: a truncated image fails here, not mid-run
        with Image.open(file) as image:
            return image.size
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise DataError(
            f"{path}: {where} names {file}, which is not a readable image ({error}). "
            "Replace the file or remove the entry."
        ) from None


def check_box(bbox: Any, image: CocoImage, where: str, path: Path) -> list[float]:
    """COCO's x, y, width, height -> x1, y1, x2, y2, inside the image with a positive size."""
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(_number(v) for v in bbox)):
        raise DataError(f"{path}: {where} has bbox {bbox!r}; it must be [x, y, width, height]")
    x, y, w, h = map(float, bbox)
    if w <= 0 or h <= 0:
        raise DataError(
            f"{path}: {where} has bbox {bbox} with a non-positive size (width {w}, height {h}). "
            "Give the box a width and height above 0, or delete the annotation."
        )
    t = EDGE_TOLERANCE
    if x < -t or y < -t or x + w > image.width + t or y + h > image.height + t:
        raise DataError(
            f"{path}: {where} has bbox {bbox} reaching outside its {image.width}x{image.height} "
            f"image {image.path.name} (x + width must be <= {image.width}, y + height <= "
            f"{image.height}, x and y >= 0). Fix the box or clip it to the image."
        )
    return [max(x, 0.0), max(y, 0.0), min(x + w, image.width), min(y + h, image.height)]


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def read_coco(path: Path, image_dir: Path) -> tuple[dict[int, str], list[CocoImage]]:
    """The file's categories and its images with their boxes, in the file's image order."""
    data = read_json(path)
    require(data, ("images", "annotations", "categories"), "the top-level object", path)
    categories = read_categories(data, path)
    images: dict[int, CocoImage] = {}
    for index, entry in enumerate(data["images"]):
        where = f"images[{index}]"
        require(entry, ("id", "file_name"), where, path)
        where = f"images[{index}] (id {entry['id']})"
        file = image_dir / str(entry["file_name"])
        width, height = image_size(file, where, path)
        images[entry["id"]] = CocoImage(file, width, height)
    for index, entry in enumerate(data["annotations"]):
        where = f"annotations[{index}]"
        require(entry, ("image_id", "category_id", "bbox"), where, path)
        if "id" in entry:
            where = f"annotations[{index}] (id {entry['id']})"
        if entry["category_id"] not in categories:
            known = ", ".join(f"{k} ({v})" for k, v in categories.items())
            raise DataError(
                f"{path}: {where} has category_id {entry['category_id']}, which is not in "
                f"'categories' ({known}). Add the category or fix the annotation."
            )
        image = images.get(entry["image_id"])
        if image is None:
            raise DataError(
                f"{path}: {where} has image_id {entry['image_id']}, which no entry of 'images' "
                "has. Add the image or fix the annotation."
            )
        image.boxes.append(check_box(entry["bbox"], image, where, path))
        image.category_ids.append(int(entry["category_id"]))
    return categories, list(images.values())
