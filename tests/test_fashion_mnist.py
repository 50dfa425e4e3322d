"""data=fashion_mnist: where the files are found, .gz read as is, mnist's split rules, class names
in figures and bp-predict; and, where Debian's package is installed, one real epoch on a slice."""

from __future__ import annotations

import gzip
import json
import shutil

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image
from torch import nn

from bp_app.callbacks.figures import (
    confusion_image,
    confusion_labels,
    sample_grid,
    sample_titles,
)
from bp_app.data.fashion_mnist import APT_COMMAND, CLASS_NAMES, SYSTEM_DIR, FashionMNISTDataModule
from bp_app.data.mnist import RAW_FILES
from bp_app.errors import DataError
from bp_app.predictors import images as image_predictor
from tests.conftest import FAST, REPO, run_command
from tests.fake_mnist import write_fake_mnist

REAL_FILES = all((SYSTEM_DIR / f"{name}.gz").is_file() for name in RAW_FILES)


def write_gzipped(folder, n_train=300, n_test=60):
    """Fake IDX files (MNIST's writer) gzipped into ``folder``, as the Debian package ships."""
    raw = write_fake_mnist(folder / "fake", n_train=n_train, n_test=n_test)
    folder.mkdir(parents=True, exist_ok=True)
    for name in RAW_FILES:
        (folder / f"{name}.gz").write_bytes(gzip.compress((raw / name).read_bytes()))
    shutil.rmtree(folder / "fake")
    return folder


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """The system folder pointed at an empty place: only data.root can hold the files."""
    monkeypatch.setattr(FashionMNISTDataModule, "system_dir", tmp_path / "system")
    return tmp_path


def test_gzipped_files_under_root_split_like_mnist(nowhere):
    write_gzipped(nowhere / "FashionMNIST" / "raw")
    data = FashionMNISTDataModule(root=str(nowhere), val_size=50)
    data.setup()
    x_train, y_train = data.splits["train"]
    assert x_train.shape == (250, 1, 28, 28) and data.splits["val"][0].shape == (50, 1, 28, 28)
    assert data.splits["test"][0].shape == (60, 1, 28, 28) and y_train.dtype == torch.long
    # The training part's own statistics, as data=mnist: standardized, nothing from val / test.
    assert abs(float(x_train.mean())) < 1e-4 and abs(float(x_train.std()) - 1) < 1e-4
    state = data.prediction_state()
    assert state["class_names"][:2] == ["T-shirt/top", "Trouser"] and len(CLASS_NAMES) == 10
    assert data.raw_dir == nowhere / "FashionMNIST" / "raw"


def test_the_system_folder_is_read_when_root_has_nothing(nowhere):
    write_gzipped(nowhere / "system")
    data = FashionMNISTDataModule(root=str(nowhere / "empty"), val_size=50)
    assert data.raw_dir == nowhere / "system"
    data.setup()
    assert len(data.splits["test"][0]) == 60


def test_missing_files_name_both_places_and_the_fixes(nowhere):
    with pytest.raises(DataError) as error:
        FashionMNISTDataModule(root=str(nowhere)).setup()
    message = str(error.value)
    for part in ("FashionMNIST/raw", str(nowhere / "system"), APT_COMMAND, "data.download=true"):
        assert part in message


def test_cut_off_gzip_is_a_data_error_naming_the_file(nowhere):
    raw = write_gzipped(nowhere / "FashionMNIST" / "raw")
    labels = raw / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(labels.read_bytes()[:20])
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz could not be decompressed"):
        FashionMNISTDataModule(root=str(nowhere), val_size=50).setup()


def test_truncated_idx_inside_the_gzip_is_a_data_error(nowhere):
    raw = write_gzipped(nowhere / "FashionMNIST" / "raw")
    images = raw / "train-images-idx3-ubyte.gz"
    images.write_bytes(gzip.compress(gzip.decompress(images.read_bytes())[:-28]))
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz is truncated"):
        FashionMNISTDataModule(root=str(nowhere), val_size=50).setup()


def test_figures_are_labelled_with_class_names():
    assert confusion_labels(10, list(CLASS_NAMES)) == list(CLASS_NAMES)
    assert confusion_labels(3) == ["0", "1", "2"]
    titles = sample_titles([1, 9], [1, 0], [0.9, 0.6], CLASS_NAMES)
    assert titles == [
        ("pred Trouser (0.90)", "true Trouser"),
        ("pred T-shirt/top (0.60)", "true Ankle boot"),
    ]
    # The drawn pictures carry them: names change the pixels, and widen the label margins.
    matrix = np.eye(10, dtype=int) * 5
    named, numbered = confusion_image(matrix, list(CLASS_NAMES)), confusion_image(matrix)
    assert named.shape[0] > numbered.shape[0] and named.shape[1] > numbered.shape[1]
    images = np.zeros((2, 1, 28, 28))
    grid = sample_grid(images, [1, 9], [1, 0], [0.9, 0.6], 0, CLASS_NAMES)
    assert grid.dtype == np.uint8 and grid.shape[2] == 3
    assert not np.array_equal(grid, sample_grid(images, [1, 9], [1, 0], [0.9, 0.6], 0))


class Always(nn.Module):
    """A classifier that always answers class 1 (Trouser)."""

    hparams = {"input_shape": [1, 28, 28]}

    def forward(self, x):
        return torch.tensor([[0.0, 5.0] + [0.0] * 8]).expand(len(x), 10)  # (B, 10)


def test_bp_predict_prints_class_names(tmp_path, capsys):
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "a.png")
    checkpoint = {"bp_app": {"data_state": {"class_names": list(CLASS_NAMES)}}}
    cfg = OmegaConf.create({"inputs": [str(tmp_path / "a.png")]})
    rows = image_predictor.predict(Always(), checkpoint, cfg)
    assert rows[0]["name"] == "Trouser"
    assert f"{tmp_path / 'a.png'}: 1 Trouser (p=" in capsys.readouterr().out


@pytest.mark.skipif(
    not REAL_FILES,
    reason=f"Fashion-MNIST is not installed in {SYSTEM_DIR} ({APT_COMMAND}; .ci/run does it)",
)
def test_real_fashion_mnist_one_epoch_on_a_slice(tmp_path):
    """bp-train experiment=fashion_mlp on the real files: one epoch of 40 updates, then test."""
    run_dir = tmp_path / "run"
    fast = [o for o in FAST if not o.startswith("trainer.max_epochs")]
    result = run_command(
        "bp_app.train",
        [
            "experiment=fashion_mlp",
            *fast,
            "trainer.max_epochs=1",
            "+trainer.limit_train_batches=5",  # 5 batches of 8 steps of 128 images
            "+trainer.limit_val_batches=1",
            "+trainer.limit_test_batches=2",  # 2,048 of the 10,000 test images
            f"data.root={tmp_path / 'no_data'}",  # nothing there: the system folder is read
            f"hydra.run.dir={run_dir}",
        ],
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["test/acc"] > 0.6, metrics  # 10 classes: chance is 0.1
    assert (run_dir / "images" / "confusion_matrix.png").stat().st_size > 10_000
