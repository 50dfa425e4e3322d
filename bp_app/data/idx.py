"""The IDX file format of MNIST and Fashion-MNIST: header checks and reading, plain or gzipped.

IDX: a 4-byte magic number (0, 0, the value type, the number of dimensions), each dimension as
a big-endian int32, then the values, row-major. MNIST's are unsigned bytes (type 0x08).
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from bp_app.errors import DataError

IDX_VALUE_BYTES = {0x08: 1, 0x09: 1, 0x0B: 2, 0x0C: 4, 0x0D: 4, 0x0E: 8}
# The magic number read as one big-endian int: bytes, 3 dimensions for images, 1 for labels.
IDX_MAGIC = {"images": 0x0803, "labels": 0x0801}  # 2051 and 2049


def idx_dims(path: Path, head: bytes, size: int, fix: str) -> tuple[int, ...]:
    """The dimensions the header promises; a DataError naming the file when the header is not
    IDX or the ``size`` bytes of content do not match it."""
    magic = head[:4]
    if len(magic) < 4 or magic[:2] != b"\0\0" or magic[2] not in IDX_VALUE_BYTES:
        raise DataError(f"{path} is not an IDX file (it starts with {magic!r}). {fix}")
    check_magic(path, int.from_bytes(magic, "big"), fix)
    header = head[4 : 4 + 4 * magic[3]]
    if len(header) < 4 * magic[3]:
        raise DataError(f"{path} is truncated inside its header ({size} bytes). {fix}")
    dims = struct.unpack(f">{magic[3]}i", header)
    expected = 4 + len(header) + math.prod(dims) * IDX_VALUE_BYTES[magic[2]]
    if size != expected:
        shape = " x ".join(map(str, dims))
        state = "truncated" if size < expected else "longer than its header says"
        raise DataError(
            f"{path} is {state}: its header promises {shape} values ({expected:,} bytes) but the "
            f"file has {size:,} bytes. {fix}"
        )
    return dims


def check_idx_file(path: Path, fix: str) -> None:
    """A damaged or truncated uncompressed IDX file fails naming the file and its header."""
    with path.open("rb") as handle:
        head = handle.read(4 + 4 * 255)
    idx_dims(path, head, path.stat().st_size, fix)


def read_idx_bytes(path: Path, fix: str) -> Tensor:
    """An unsigned-byte IDX file as a uint8 tensor of its dimensions; ``.gz`` files are
    decompressed in memory (the form Debian's dataset packages and the mirrors ship)."""
    try:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zlib.error) as error:  # a damaged or cut-off gzip stream
        raise DataError(f"{path} could not be decompressed ({error}). {fix}") from error
    dims = idx_dims(path, data, len(data), fix)
    if data[2] != 0x08:
        raise DataError(f"{path} holds IDX type {data[2]:#04x}, expected unsigned bytes. {fix}")
    offset = 4 + 4 * len(dims)
    values = np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(dims)
    return torch.from_numpy(values.copy())


def check_magic(path: Path, magic: int, fix: str) -> None:
    """An images file must carry the images magic number, a labels file the labels one."""
    role = "images" if "images" in path.name else "labels" if "labels" in path.name else None
    if role is None or magic == IDX_MAGIC[role]:
        return
    other = {v: k for k, v in IDX_MAGIC.items()}.get(magic)
    found = f"the magic number {magic} of an IDX {other} file" if other else f"magic number {magic}"
    swapped = " The images and labels files may be swapped or renamed." if other else ""
    raise DataError(
        f"{path} should hold {role} (IDX magic number {IDX_MAGIC[role]}) but has {found}."
        f"{swapped} {fix}"
    )
