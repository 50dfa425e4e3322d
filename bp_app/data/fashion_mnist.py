"""Zalando's Fashion-MNIST: 60,000 training and 10,000 test clothing images, 28x28 grey, in
MNIST's IDX format, read offline from data.root or from Debian's ``dataset-fashion-mnist``.

Split and normalisation follow ``data=mnist`` (a fixed validation hold-out, the training part's
own mean and std); only where the files are found and how they are read differ.
"""

from __future__ import annotations

from pathlib import Path

from torch import Tensor
from torchvision.datasets import FashionMNIST

from bp_app.data.idx import read_idx_bytes
from bp_app.data.mnist import RAW_FILES, MNISTDataModule
from bp_app.errors import DataError

# Where `apt-get install dataset-fashion-mnist` puts the four gzipped IDX files.
SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
APT_COMMAND = "apt-get install dataset-fashion-mnist"
# Labels 0..9 in Zalando's order, the names torchvision gives them.
CLASS_NAMES = tuple(FashionMNIST.classes)


def find_file(folder: Path, name: str) -> Path | None:
    """``name`` or ``name.gz`` in ``folder``: the uncompressed file first."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


class FashionMNISTDataModule(MNISTDataModule):
    """Fashion-MNIST with data=mnist's split rules; class names go to figures and bp-predict."""

    name = "Fashion-MNIST"
    class_names = CLASS_NAMES
    system_dir = SYSTEM_DIR  # a class attribute so that tests can point it elsewhere

    @property
    def root_dir(self) -> Path:
        """torchvision's layout under data.root, where data.download=true puts the files."""
        return self.root / "FashionMNIST" / "raw"

    def source_files(self) -> list[Path] | None:
        """The four files from the first folder that holds all of them, or None."""
        for folder in (self.root_dir, self.system_dir):
            files = [find_file(folder, name) for name in RAW_FILES]
            if all(files):
                return files
        return None

    @property
    def raw_dir(self) -> Path:
        files = self.source_files()
        return files[0].parent if files else self.root_dir

    def prepare_data(self) -> None:
        """Download into data.root when asked and nothing is found; otherwise fail early,
        naming both places and how to fill either."""
        if self.source_files() is not None:
            return
        if not self.download:
            raise DataError(self._missing_message())
        try:
            FashionMNIST(str(self.root), train=True, download=True)
            FashionMNIST(str(self.root), train=False, download=True)
        except Exception as error:  # torchvision raises RuntimeError / URLError per mirror
            raise DataError(
                f"Fashion-MNIST download failed ({error}). {self._missing_message()}"
            ) from error

    def _missing_message(self) -> str:
        files = ", ".join(RAW_FILES)
        return (
            f"Fashion-MNIST files not found in {self.root_dir.resolve()} nor in {self.system_dir} "
            f"(expected {files}, each as it is or gzipped as .gz). Install Debian's package "
            f"({APT_COMMAND}), put the files in the first folder (or point data.root at the "
            "folder that holds FashionMNIST/raw), or pass data.download=true on a machine with "
            "network access."
        )

    def read_images(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        self.prepare_data()
        files = self.source_files()
        assert files is not None  # prepare_data found or fetched them
        fix = (
            f"Replace it: reinstall the package ({APT_COMMAND} --reinstall) or delete the files "
            f"in {files[0].parent} and download them again (data.download=true)."
        )
        train_images, train_labels, test_images, test_labels = (
            read_idx_bytes(path, fix) for path in files
        )
        for path, labels in ((files[1], train_labels), (files[3], test_labels)):
            if labels.dim() != 1 or (len(labels) and int(labels.max()) >= len(CLASS_NAMES)):
                raise DataError(f"{path} holds labels outside 0..9. {fix}")
        return train_images, train_labels.long(), test_images, test_labels.long()
