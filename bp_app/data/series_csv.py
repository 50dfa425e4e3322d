"""Read a series from a CSV file: a value column and an optional date column, checked row by row.

Every problem names the file, the line (the header is line 1) or the column, and the fix.
Gaps (empty cells, NA, NaN) are errors unless the user asks for ``data.fill=interpolate``;
then they are filled linearly between their neighbours and the count is logged.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bp_app.data.csv_rows import csv_rows_of
from bp_app.data.utf8 import read_utf8
from bp_app.errors import ConfigError, DataError

log = logging.getLogger(__name__)

FILLS = ("none", "interpolate")
GAP_MARKS = {"", "na", "nan", "n/a", "null", "none", "-"}


@dataclass
class Series:
    """A univariate series with optional dates (numpy datetime64), oldest first."""

    values: np.ndarray
    dates: np.ndarray | None
    name: str
    source: str


def read_series_csv(
    path: str | Path, value_column: str, date_column: str | None = None, fill: str = "none"
) -> Series:
    """The series in ``path``; raises DataError for anything that would train on wrong data."""
    if fill not in FILLS:
        raise ConfigError(f"data.fill={fill!r} is unknown; choose one of: {', '.join(FILLS)}")
    path = Path(path)
    missing = f"{path} does not exist; set data.path to a CSV file with a header row"
    content = read_utf8(path, missing)  # random bytes: "not UTF-8 text (line n)", no traceback
    with csv_rows_of(path, content):
        rows = list(csv.reader(io.StringIO(content, newline="")))
    if len(rows) < 2:
        raise DataError(f"{path} has no data rows; it needs a header line and one row per time")
    header = [name.strip() for name in rows[0]]
    value_index = _column(header, value_column, "data.value_column", path)
    date_index = _column(header, date_column, "data.date_column", path) if date_column else None
    body = rows[1:]

    values = np.empty(len(body))
    gaps: list[int] = []
    for i, row in enumerate(body):
        line = i + 2
        cell = row[value_index].strip() if value_index < len(row) else ""
        if cell.lower() in GAP_MARKS:
            gaps.append(i)
            values[i] = np.nan
            continue
        try:
            values[i] = float(cell)
        except ValueError:
            raise DataError(
                f"{path} line {line}, column '{value_column}': {cell!r} is not a number. "
                "Correct the value (a plain number such as 112 or 3.5); if it is missing, leave "
                "the cell empty and pass data.fill=interpolate."
            ) from None
        if not np.isfinite(values[i]):
            raise DataError(f"{path} line {line}, column '{value_column}': {cell!r} is not finite")
    if gaps:
        values = _fill_gaps(values, gaps, path, value_column, fill)

    dates = _read_dates(body, date_index, date_column, path) if date_index is not None else None
    return Series(values=values, dates=dates, name=value_column, source=str(path))


def _column(header: list[str], name: str, key: str, path: Path) -> int:
    if name in header:
        return header.index(name)
    hint = ""
    if len(header) == 1 and any(mark in header[0] for mark in (";", "\t", "|")):
        hint = " The header looks like one column: save the file with commas between columns."
    raise DataError(
        f"{path} has no column '{name}' (its columns: {', '.join(repr(h) for h in header)}). "
        f"Set {key}=<one of them>.{hint}"
    )


def _fill_gaps(
    values: np.ndarray, gaps: list[int], path: Path, column: str, fill: str
) -> np.ndarray:
    lines = ", ".join(str(i + 2) for i in gaps[:5]) + (" ..." if len(gaps) > 5 else "")
    if fill != "interpolate":
        raise DataError(
            f"{path} column '{column}' has {len(gaps)} missing value(s), at line(s) {lines}. "
            "Fill them in the file, or pass data.fill=interpolate to interpolate linearly "
            "between the neighbouring values."
        )
    known = np.flatnonzero(~np.isnan(values))
    if not len(known) or gaps[0] < known[0] or gaps[-1] > known[-1]:
        raise DataError(
            f"{path} column '{column}': missing values at the start or end (line(s) {lines}) "
            "have no neighbour on one side, so data.fill=interpolate cannot fill them. "
            "Remove those rows."
        )
    filled = values.copy()
    filled[gaps] = np.interp(gaps, known, values[known])
    log.warning("%s: filled %d missing value(s) by linear interpolation", path, len(gaps))
    return filled


def _read_dates(body: list[list[str]], index: int, column: str, path: Path) -> np.ndarray:
    """ISO dates (YYYY, YYYY-MM, YYYY-MM-DD, with time), strictly increasing."""
    dates = []
    for i, row in enumerate(body):
        cell = row[index].strip() if index < len(row) else ""
        try:
            dates.append(np.datetime64(cell))
        except ValueError:
            raise DataError(
                f"{path} line {i + 2}, column '{column}': {cell!r} is not an ISO date. "
                "Write dates as YYYY-MM or YYYY-MM-DD (optionally with a time, YYYY-MM-DDTHH:MM)."
            ) from None
        if cell.lower() in GAP_MARKS or np.isnat(dates[-1]):
            raise DataError(
                f"{path} line {i + 2}, column '{column}': the date is missing. "
                "Every row needs its date; fill it in or remove the row."
            )
    stamps = np.array(dates)
    for i in range(1, len(stamps)):
        if stamps[i] == stamps[i - 1]:
            raise DataError(
                f"{path} line {i + 2}, column '{column}': date {stamps[i]} repeats line {i + 1}. "
                "Keep one row per date (sum or average duplicates before training)."
            )
        if stamps[i] < stamps[i - 1]:
            raise DataError(
                f"{path} line {i + 2}, column '{column}': date {stamps[i]} comes before "
                f"{stamps[i - 1]} on line {i + 1}. Sort the file by '{column}', oldest first."
            )
    return stamps
