"""The Large Movie Review Dataset (Maas et al., 2011) read from its published folder tree.

    <root>/aclImdb/train/pos/*.txt   12,500 positive training reviews
    <root>/aclImdb/train/neg/*.txt   12,500 negative
    <root>/aclImdb/test/{pos,neg}/   the same for test

(``train/unsup`` and the URL and vocabulary files of the archive are not used.)
"""

from __future__ import annotations

import hashlib
import logging
import tarfile
import urllib.request
from pathlib import Path
from typing import Any

from bp_app.data.text_base import LabelledTexts, TextDataModule, split_indices
from bp_app.errors import DataError

log = logging.getLogger(__name__)

URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
MD5 = "7c2ac02c03563afcf9b574c7e56c153a"  # of aclImdb_v1.tar.gz, as published
LABELS = ["negative", "positive"]
FOLDERS = {"neg": 0, "pos": 1}


def md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_archive(url: str, md5: str, root: Path) -> None:
    """Download the archive into ``root`` (kept there, and reused when its checksum is right),
    check its MD5, and extract it beside."""
    root.mkdir(parents=True, exist_ok=True)
    archive = root / url.rsplit("/", 1)[-1]
    if not archive.is_file() or md5_of(archive) != md5:
        log.info("Downloading %s", url)
        partial = archive.with_suffix(".part")
        urllib.request.urlretrieve(url, partial)
        partial.replace(archive)
    actual = md5_of(archive)
    if actual != md5:
        archive.unlink()
        raise DataError(f"{url} has MD5 {actual}, not the published {md5}: download it again")
    with tarfile.open(archive) as tar:
        # The "data" filter refuses absolute paths and links out of root (Python >= 3.10.12).
        options = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(root, **options)


def read_reviews(folder: Path) -> LabelledTexts:
    """Every review under ``folder``/{neg,pos}, in file-name order, with its label."""
    texts: list[str] = []
    labels: list[int] = []
    for name, label in FOLDERS.items():
        for path in sorted((folder / name).glob("*.txt")):
            try:
                texts.append(path.read_text(encoding="utf-8"))
            except UnicodeDecodeError as error:
                raise DataError(
                    f"{path} is not UTF-8 text ({error.reason} at byte {error.start}); "
                    "the published archive is UTF-8: replace the file or download again "
                    "(data.download=true)"
                ) from error
            labels.append(label)
    return texts, labels


class IMDBDataModule(TextDataModule):
    """``data=imdb``: 25,000 training reviews (``val_size`` of them kept for validation, fixed by
    ``split_seed``) and 25,000 test reviews."""

    def __init__(
        self,
        root: str = "data",
        download: bool = False,
        val_size: int = 2500,
        split_seed: int = 0,
        max_len: int = 256,
        max_vocab_size: int = 25000,
        min_freq: int = 2,
        **loader: Any,
    ) -> None:
        super().__init__(max_len, max_vocab_size, min_freq, **loader)
        self.root = Path(root)
        self.download = download
        self.val_size = val_size
        self.split_seed = split_seed
        self.label_names = list(LABELS)

    @property
    def tree(self) -> Path:
        return self.root / "aclImdb"

    def _complete(self) -> bool:
        return all(
            any((self.tree / split / name).glob("*.txt"))
            for split in ("train", "test")
            for name in FOLDERS
        )

    def prepare_data(self) -> None:
        """Download when asked; otherwise fail early, saying where the files must be."""
        if self._complete():
            return
        if not self.download:
            raise DataError(self._missing_message())
        try:
            fetch_archive(URL, MD5, self.root)
        except (OSError, tarfile.TarError) as error:  # no network, a full disk, a bad archive
            raise DataError(f"IMDB download failed ({error}). {self._missing_message()}") from error
        if not self._complete():
            raise DataError(f"the IMDB archive did not extract to {self.tree.resolve()}")

    def _missing_message(self) -> str:
        return (
            f"IMDB reviews not found in {self.tree.resolve()} (expected aclImdb/train/pos, "
            "aclImdb/train/neg, aclImdb/test/pos and aclImdb/test/neg, one review per .txt file). "
            f"Extract {URL} into {self.root.resolve()}, point data.root at the folder that holds "
            "aclImdb (e.g. bp-train data=imdb data.root=/path/to/data), or pass "
            "data.download=true on a machine with network access."
        )

    def load_texts(self) -> dict[str, LabelledTexts]:
        self.prepare_data()
        texts, labels = read_reviews(self.tree / "train")
        test = read_reviews(self.tree / "test")
        log.info("IMDB: %d training and %d test reviews", len(texts), len(test[0]))
        index = split_indices(len(texts), self.val_size, 0, self.split_seed)

        def take(split: str) -> LabelledTexts:
            rows = index[split].tolist()
            return [texts[i] for i in rows], [labels[i] for i in rows]

        return {"train": take("train"), "val": take("val"), "test": test}
