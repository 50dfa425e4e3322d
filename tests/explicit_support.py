"""Tiny data and models for the explicit-backward tests: every model bp_app trains, small enough
that 50 steps take a fraction of a second."""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor

from bp_app.data.in_memory import InMemoryDataModule
from bp_app.models.cnn import CNNClassifier
from bp_app.models.forecaster import Forecaster
from bp_app.models.mlp import MLPClassifier
from bp_app.models.sentiment import BagOfEmbeddingsClassifier, SentimentClassifier
from tests.conftest import quiet_trainer as conftest_quiet_trainer

VOCAB, STEPS, ROWS = 12, 7, 48


def padded_tokens(rows: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """(ids (rows, STEPS), lengths): lengths 1..STEPS, some all-equal, <pad> = 0 after each."""
    lengths = torch.randint(1, STEPS + 1, (rows,), generator=generator)
    lengths[: rows // 4] = STEPS  # a share of full-length rows
    lengths[rows // 4] = 1
    ids = torch.randint(1, VOCAB, (rows, STEPS), generator=generator)
    ids[torch.arange(STEPS)[None, :] >= lengths[:, None]] = 0
    return ids, lengths


class TinyData(InMemoryDataModule):
    """Random images, token sequences or windows, by ``kind``."""

    def __init__(self, kind: str, **loader: Any) -> None:
        super().__init__(**loader)
        self.kind = kind

    def load_splits(self) -> dict[str, tuple[Tensor, ...]]:
        g = torch.Generator().manual_seed(11)
        if self.kind == "images":
            x = torch.randn(ROWS, 1, 6, 6, generator=g)
            return {"train": (x, torch.randint(0, 3, (ROWS,), generator=g))}
        if self.kind == "tokens":
            ids, lengths = padded_tokens(ROWS, g)
            return {"train": (ids, lengths, torch.randint(0, 2, (ROWS,), generator=g))}
        x = torch.randn(ROWS, 8, 1, generator=g)  # windows
        return {"train": (x, x[:, -2:, 0] * 0.5 + 0.1)}

    def model_inputs(self) -> dict[str, Any]:
        return {}


# name -> (data kind, model class, its arguments)
MODELS: dict[str, tuple[str, type, dict[str, Any]]] = {
    "mlp": ("images", MLPClassifier, dict(input_shape=[1, 6, 6], num_classes=3, hidden_sizes=[8])),
    "cnn": (
        "images",
        CNNClassifier,
        dict(input_shape=[1, 6, 6], num_classes=3, channels=[3], hidden_sizes=[8], batch_norm=True),
    ),
    "bag_of_embeddings": (
        "tokens",
        BagOfEmbeddingsClassifier,
        dict(vocab_size=VOCAB, num_classes=2, embedding_dim=5),
    ),
    **{
        f"sentiment_{cell}": (
            "tokens",
            SentimentClassifier,
            dict(vocab_size=VOCAB, num_classes=2, cell=cell, embedding_dim=5, hidden_size=6),
        )
        for cell in ("rnn", "lstm", "gru")
    },
    **{
        f"forecaster_{cell}": (
            "windows",
            Forecaster,
            dict(
                lookback=8,
                horizon=2,
                scaler={"method": "standard", "shift": 0.0, "scale": 1.0},
                cell=cell,
                hidden_size=6,
            ),
        )
        for cell in ("lstm", "gru")
    },
}


def make_model(name: str, **options: Any) -> pl.LightningModule:
    _, model_class, arguments = MODELS[name]
    torch.manual_seed(0)  # the same initial weights whatever the mode
    optimization = {"optimizer": {"name": "adam", "lr": 0.01}}
    return model_class(**{**arguments, **optimization, **options})


def quiet_trainer(**options: Any) -> pl.Trainer:
    """conftest's quiet Trainer, training only (the tiny data has no validation split)."""
    return conftest_quiet_trainer(**{"limit_val_batches": 0, "num_sanity_val_steps": 0, **options})


def train_steps(name: str, steps: int, **options: Any) -> pl.LightningModule:
    """``steps`` updates of the named tiny model, batch 16, seed 0."""
    model = make_model(name, **options)
    pl.seed_everything(0)
    data = TinyData(MODELS[name][0], batch_size=16, seed=0)
    quiet_trainer(max_steps=steps).fit(model, datamodule=data)
    return model
