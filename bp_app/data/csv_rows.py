"""Rows of a CSV text, with the two ways Python's csv module fails turned into DataErrors.

The module refuses a field longer than 131,072 characters (``csv.field_size_limit``), a guard
against an unclosed quote swallowing the file. A whole file's text is already in memory, so no
field can be longer than it: the limit is raised to the text's length while it is read, and a
long review is read like a short one. A malformed file still fails, naming the file.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bp_app.errors import DataError


@contextmanager
def csv_rows_of(path: Path, content: str) -> Iterator[None]:
    """Within this block, csv readers over ``content`` accept any field length, and a csv.Error
    becomes a DataError naming ``path``."""
    previous = csv.field_size_limit()
    csv.field_size_limit(max(previous, len(content) + 1))
    try:
        yield
    except csv.Error as error:
        raise DataError(
            f"{path} is not a readable CSV file ({error}); "
            "save it as plain UTF-8 CSV text (comma-separated, a header line, one row per line)"
        ) from None
    finally:
        csv.field_size_limit(previous)
