"""Reading a user's text file: UTF-8 with or without a BOM, or one error naming file and line."""

from __future__ import annotations

from pathlib import Path

from bp_app.errors import DataError


def read_utf8(path: Path, missing: str) -> str:
    """The file's text; ``missing`` is the message when there is no such file (it names the
    setting to fix). A file in another encoding fails naming the file and the line."""
    if not path.is_file():
        raise DataError(missing)
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")  # a BOM, as spreadsheet programs write, is not text
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise DataError(
            f"{path} is not UTF-8 text (line {line}: {error.reason}); "
            "save it as UTF-8 (e.g. iconv -f latin1 -t utf-8) and run again"
        ) from error
