"""A user's own labelled texts: a CSV or TSV file with a header, one text and one label per row."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from bp_app.data.csv_rows import csv_rows_of
from bp_app.data.text_base import LabelledTexts, TextDataModule, split_indices
from bp_app.data.utf8 import read_utf8
from bp_app.errors import DataError


def label_order(values: set[str]) -> list[str]:
    """Label names in a stable order: numerically when every label is an integer."""
    if all(v.lstrip("-").isdigit() for v in values):
        return sorted(values, key=int)
    return sorted(values)


def read_labelled_csv(
    path: Path, text_column: str, label_column: str, delimiter: str
) -> tuple[list[str], list[str]]:
    """Texts and label strings of every row, checked: a missing column, an empty text or a
    missing label fails naming the file and the line."""
    content = read_utf8(path, f"{path} does not exist: point data.path at your CSV or TSV file")
    if not content.strip():
        raise DataError(
            f"{path} is empty: it needs a header line naming the columns (e.g. "
            f"{text_column},{label_column}) and then one text and its label per line"
        )
    with csv_rows_of(path, content):  # a 1 MB review is one long field, not an error
        return _read_rows(path, content, text_column, label_column, delimiter)


def _read_rows(
    path: Path, content: str, text_column: str, label_column: str, delimiter: str
) -> tuple[list[str], list[str]]:
    reader = csv.DictReader(io.StringIO(content, newline=""), delimiter=delimiter)
    columns = reader.fieldnames or []
    for key, column in (("text_column", text_column), ("label_column", label_column)):
        if column not in columns:
            raise DataError(
                f"{path} has no column {column!r} (its header has: {', '.join(columns) or '-'}); "
                f"set data.{key} to the right name"
                + ("" if len(columns) > 1 else f", or data.delimiter (now {delimiter!r})")
            )
    texts: list[str] = []
    labels: list[str] = []
    for row in reader:
        text = (row.get(text_column) or "").strip()
        label = (row.get(label_column) or "").strip()
        where = f"{path}, line {reader.line_num}"
        if not text:
            raise DataError(
                f"{where}: the {text_column!r} column is empty; give it a text or delete the row"
            )
        if not label:
            raise DataError(
                f"{where}: the {label_column!r} column is empty; give the row a label or delete it"
            )
        texts.append(text)
        labels.append(label)
    if not texts:
        raise DataError(f"{path} has a header but no rows")
    return texts, labels


class TextCSVDataModule(TextDataModule):
    """``data=text_csv``: split once into train / val / test by ``split_seed``; the vocabulary
    is fit on the training part only."""

    def __init__(
        self,
        path: str | None = None,
        text_column: str = "text",
        label_column: str = "label",
        delimiter: str | None = None,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        split_seed: int = 0,
        max_len: int = 256,
        max_vocab_size: int = 20000,
        min_freq: int = 1,
        **loader: Any,
    ) -> None:
        super().__init__(max_len, max_vocab_size, min_freq, **loader)
        # Checked when the data is read (check_settings), so that composing and building the
        # module stay cheap; the error then names the missing key.
        self.path = Path(path) if path else None
        self.text_column = text_column
        self.label_column = label_column
        self.delimiter = delimiter
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.split_seed = split_seed

    def check_settings(self) -> Path:
        """The file to read, once the settings are known to be usable."""
        if self.path is None:
            raise DataError(
                "data.path is not set: name your CSV or TSV file, e.g. "
                "bp-train model=sentiment data=text_csv data.path=reviews.csv"
            )
        val, test = self.val_fraction, self.test_fraction
        if not 0 < val < 1 or not 0 < test < 1 or val + test >= 1:
            raise DataError(
                "data.val_fraction and data.test_fraction must be in (0, 1) with a sum below 1, "
                f"got {val} and {test}"
            )
        return self.path

    def load_texts(self) -> dict[str, LabelledTexts]:
        path = self.check_settings()
        # A .tsv file is tab-separated unless told otherwise.
        delimiter = self.delimiter or ("\t" if path.suffix.lower() == ".tsv" else ",")
        texts, names = read_labelled_csv(path, self.text_column, self.label_column, delimiter)
        self.label_names = label_order(set(names))
        if len(self.label_names) < 2:
            raise DataError(
                f"{self.path} has one label only ({self.label_names[0]!r}); a classifier needs two"
            )
        index_of = {name: i for i, name in enumerate(self.label_names)}
        labels = [index_of[name] for name in names]
        n = len(texts)
        val_size = max(1, round(n * self.val_fraction))
        test_size = max(1, round(n * self.test_fraction))
        index = split_indices(n, val_size, test_size, self.split_seed)
        splits = {}
        for split in ("train", "val", "test"):
            rows = index[split].tolist()
            splits[split] = ([texts[i] for i in rows], [labels[i] for i in rows])
        return splits
