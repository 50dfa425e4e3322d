"""MNIST from its real IDX files, read by torchvision, held in memory as normalized tensors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torchvision.datasets import MNIST

from bp_app.data import idx
from bp_app.data.image_augment import RandomShiftRotate
from bp_app.data.in_memory import InMemoryDataModule
from bp_app.data.tensor_loader import TensorBatchLoader
from bp_app.errors import DataError

RAW_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def check_idx_file(path: Path) -> None:
    """A damaged or truncated MNIST file fails naming the file and what its header promises."""
    idx.check_idx_file(
        path,
        f"Replace it: delete the files in {path.parent} and download them again "
        "(data.download=true), or copy the original files there.",
    )


def check_labels(path: Path, labels: Tensor, num_classes: int) -> None:
    """A label outside 0..num_classes-1 would crash the loss in the middle of training."""
    bad = torch.nonzero((labels < 0) | (labels >= num_classes)).flatten()
    if len(bad):
        index = int(bad[0])
        raise DataError(
            f"{path} holds label {int(labels[index])} at index {index} ({len(bad)} such label(s) "
            f"of {len(labels)}); labels must lie in 0..{num_classes - 1}. Replace the file with "
            "the original (delete it and set data.download=true), or fix those labels."
        )


class MNISTDataModule(InMemoryDataModule):
    """60,000 training and 10,000 test digits, 28x28; validation is a fixed part of training."""

    kind = "images"
    name = "MNIST"
    input_shape = (1, 28, 28)
    num_classes = 10
    # Names shown in figures and by bp-predict; None: the class index is the name (a digit).
    class_names: tuple[str, ...] | None = None

    def __init__(
        self,
        root: str = "data",
        download: bool = False,
        val_size: int = 5000,
        split_seed: int = 0,
        augment_shift: int = 0,
        augment_degrees: float = 0.0,
        **loader: Any,
    ) -> None:
        super().__init__(**loader)  # batch_size, eval_batch_size, seed, steps_per_batch
        self.root = Path(root)
        self.download = download
        self.val_size = val_size
        self.split_seed = split_seed
        if augment_shift < 0 or augment_degrees < 0:
            raise ValueError(
                "data.augment_shift and data.augment_degrees must be >= 0 (0 turns them off), "
                f"got {augment_shift} and {augment_degrees}"
            )
        self.augment_shift = augment_shift
        self.augment_degrees = augment_degrees

    @property
    def raw_dir(self) -> Path:
        return self.root / "MNIST" / "raw"

    def model_inputs(self) -> dict[str, Any]:
        return {"input_shape": list(self.input_shape), "num_classes": self.num_classes}

    def prediction_state(self) -> dict[str, Any]:
        state = {"normalization": getattr(self, "normalization", None)}
        if self.class_names:
            state["class_names"] = list(self.class_names)
        return state

    def prepare_data(self) -> None:
        """Download when asked; otherwise fail early, saying where the files must be."""
        if all((self.raw_dir / name).exists() for name in RAW_FILES):
            return
        if not self.download:
            raise DataError(self._missing_message())
        try:
            MNIST(str(self.root), train=True, download=True)
            MNIST(str(self.root), train=False, download=True)
        except Exception as error:  # torchvision raises RuntimeError / URLError per mirror
            raise DataError(
                f"MNIST download failed ({error}). {self._missing_message()}"
            ) from error

    def _missing_message(self) -> str:
        files = ", ".join(RAW_FILES)
        return (
            f"MNIST files not found in {self.raw_dir.resolve()} (expected {files}, "
            "uncompressed IDX files). Put them there, point data.root at the folder that holds "
            "MNIST/raw (e.g. bp-train data=mnist data.root=/path/to/data), or pass "
            "data.download=true on a machine with network access."
        )

    def read_images(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Training images and labels, test images and labels: (N, 28, 28) uint8 and (N,) long."""
        self.prepare_data()
        for name in RAW_FILES:
            check_idx_file(self.raw_dir / name)
        try:
            train = MNIST(str(self.root), train=True, download=False)
            test = MNIST(str(self.root), train=False, download=False)
        except Exception as error:  # a truncated or corrupt IDX file
            raise DataError(
                f"MNIST files in {self.raw_dir.resolve()} could not be read ({error}); "
                "delete them and download again (data.download=true)"
            ) from error
        return train.data, train.targets, test.data, test.targets

    def load_splits(self) -> dict[str, tuple[Tensor, ...]]:
        train_images, train_labels, test_images, test_labels = self.read_images()
        for split, images, labels in (
            ("train", train_images, train_labels),
            ("t10k", test_images, test_labels),
        ):
            if tuple(images.shape[1:]) != self.input_shape[1:] or len(images) != len(labels):
                raise DataError(
                    f"{self.name} {split} files in {self.raw_dir.resolve()} hold {len(images)} "
                    f"images of {tuple(images.shape[1:])} pixels and {len(labels)} labels; "
                    "expected 28x28 images, one label each. Replace them with the original files."
                )
        check_labels(self.raw_dir / RAW_FILES[1], train_labels, self.num_classes)
        check_labels(self.raw_dir / RAW_FILES[3], test_labels, self.num_classes)
        x_train = train_images.float().unsqueeze(1) / 255.0  # (N, 28, 28) -> (N, 1, 28, 28)
        x_test = test_images.float().unsqueeze(1) / 255.0
        if not 0 <= self.val_size < len(x_train):
            raise DataError(
                f"data.val_size={self.val_size} must be between 0 (train on all, as the "
                f"lecture's listings do) and the {len(x_train)} training images minus one"
            )
        order = torch.randperm(
            len(x_train), generator=torch.Generator().manual_seed(self.split_seed)
        )
        val_idx, train_idx = order[: self.val_size], order[self.val_size :]
        # Normalize by the training part's own statistics: nothing leaks from val or test.
        mean, std = x_train[train_idx].mean(), x_train[train_idx].std()
        self.normalization = {"mean": float(mean), "std": float(std)}

        def norm(x: Tensor) -> Tensor:
            return (x - mean) / std

        return {
            "train": (norm(x_train[train_idx]), train_labels[train_idx]),
            "val": (norm(x_train[val_idx]), train_labels[val_idx]),
            "test": (norm(x_test), test_labels),
        }

    def train_dataloader(self) -> TensorBatchLoader:
        """Training batches; with augmentation on, each batch is shifted / turned as a whole on
        its device (the loader's collate), while validation and test stay as they are."""
        loader = super().train_dataloader()
        if self.augment_shift or self.augment_degrees:
            # Pixels moved in from outside get the normalized value of black, (0 − mean) / std.
            background = -self.normalization["mean"] / self.normalization["std"]
            loader.collate = RandomShiftRotate(self.augment_shift, self.augment_degrees, background)
        return loader
