"""data=imdb on a small tree in the published aclImdb layout, written by the test (no network)."""

from __future__ import annotations

import hashlib
import json
import random
import tarfile
from pathlib import Path

import pytest
import torch

from bp_app.data import imdb
from bp_app.data.imdb import IMDBDataModule
from bp_app.errors import DataError
from bp_app.train import train
from tests.conftest import FAST

GOOD = ["great", "wonderful", "moving", "superb", "funny"]
BAD = ["awful", "boring", "dull", "terrible", "weak"]


def write_acl_imdb(root: Path, per_folder: int, seed: int = 0) -> Path:
    """``root/aclImdb/{train,test}/{pos,neg}/<id>_<stars>.txt``, as in the archive."""
    rng = random.Random(seed)
    for split in ("train", "test"):
        for folder, words in (("pos", GOOD), ("neg", BAD)):
            directory = root / "aclImdb" / split / folder
            directory.mkdir(parents=True)
            for i in range(per_folder):
                body = " ".join(
                    rng.choice(words + ["the", "film", "was", "and"]) for _ in range(12)
                )
                stars = rng.choice([7, 8, 9, 10] if folder == "pos" else [1, 2, 3, 4])
                text = f"This movie was {rng.choice(words)}.<br /><br />{body.capitalize()}!"
                (directory / f"{i}_{stars}.txt").write_text(text, encoding="utf-8")
    return root


def test_reads_the_tree_with_a_fixed_validation_split(tmp_path):
    write_acl_imdb(tmp_path, per_folder=10)
    datamodule = IMDBDataModule(root=str(tmp_path), val_size=4, min_freq=1)
    assert datamodule.model_inputs()["num_classes"] == 2
    sizes = {split: len(tensors[2]) for split, tensors in datamodule.splits.items()}
    assert sizes == {"train": 16, "val": 4, "test": 20}
    assert datamodule.splits["test"][2].tolist() == [0] * 10 + [1] * 10  # neg, then pos
    again = IMDBDataModule(root=str(tmp_path), val_size=4, min_freq=1)
    again.setup()
    assert torch.equal(datamodule.splits["val"][0], again.splits["val"][0])
    vocab = datamodule.encoder.tokenizer.get_vocab()
    assert "movie" in vocab and "<br" not in vocab and "br" not in vocab


def test_end_to_end_on_a_small_tree_through_train(train_config, tmp_path):
    root = write_acl_imdb(tmp_path / "data", per_folder=24)
    overrides = [*FAST, "data=imdb", f"data.root={root}", "data.val_size=8", "data.min_freq=1"]
    overrides += ["model=sentiment", "model.cell=gru", "model.bidirectional=true", "logger=none"]
    overrides += ["data.batch_size=8", "trainer.max_epochs=2"]
    metrics = train(train_config(overrides))
    assert 0.0 <= metrics["test/acc"] <= 1.0 and metrics["test/loss"] > 0
    run = tmp_path / "run"
    assert json.loads((run / "metrics.json").read_text())["test/acc"] == metrics["test/acc"]
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    state = checkpoint["bp_app"]["data_state"]
    assert state["labels"] == ["negative", "positive"] and state["max_len"] == 256
    assert state["tokenizer"] == (run / "tokenizer.json").read_text()


def test_missing_copy_says_where_and_how(tmp_path):
    with pytest.raises(DataError) as error:
        IMDBDataModule(root=str(tmp_path / "nowhere")).model_inputs()
    message = str(error.value)
    assert str((tmp_path / "nowhere" / "aclImdb").resolve()) in message
    assert "data.download=true" in message and "data.root" in message and imdb.URL in message


def test_a_review_that_is_not_utf8_is_named(tmp_path):
    write_acl_imdb(tmp_path, per_folder=3)
    bad = tmp_path / "aclImdb" / "train" / "pos" / "1_9.txt"
    bad.write_bytes("Un film très réussi".encode("latin-1"))
    with pytest.raises(DataError, match=r"1_9\.txt is not UTF-8"):
        IMDBDataModule(root=str(tmp_path), val_size=1).model_inputs()


def packed_archive(tmp_path: Path) -> Path:
    source = write_acl_imdb(tmp_path / "source", per_folder=3)
    archive = tmp_path / "server" / "aclImdb_v1.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source / "aclImdb", arcname="aclImdb")
    return archive


def test_download_checks_the_checksum_then_extracts(tmp_path, monkeypatch):
    archive = packed_archive(tmp_path)
    monkeypatch.setattr(imdb, "URL", archive.as_uri())  # a file:// URL: the real download code
    monkeypatch.setattr(imdb, "MD5", hashlib.md5(archive.read_bytes()).hexdigest())
    datamodule = IMDBDataModule(root=str(tmp_path / "data"), download=True, val_size=1)
    datamodule.model_inputs()
    assert len(datamodule.splits["test"][2]) == 6
    assert (tmp_path / "data" / "aclImdb_v1.tar.gz").is_file()


def test_download_with_the_wrong_checksum_fails_and_keeps_nothing(tmp_path, monkeypatch):
    archive = packed_archive(tmp_path)
    monkeypatch.setattr(imdb, "URL", archive.as_uri())
    with pytest.raises(DataError, match="not the published 7c2ac02c03563afcf9b574c7e56c153a"):
        IMDBDataModule(root=str(tmp_path / "data"), download=True).model_inputs()
    assert not (tmp_path / "data" / "aclImdb").exists()
    assert not (tmp_path / "data" / "aclImdb_v1.tar.gz").exists()
