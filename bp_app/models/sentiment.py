"""Sentiment classifiers over token ids: a recurrent network, and the bag of embeddings it beats.

A recurrent layer reads the review in order, h_t = f(W x_t + U h_{t-1} + b), so "not good" and
"good, but not" differ; the mean of embeddings sees only which words occur, not where.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence

from bp_app.models.classifier import ClassifierModule

CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class RecurrentEncoder(nn.Module):
    """Embedding -> RNN / LSTM / GRU over packed sequences -> Linear on the last hidden state.

    Packing runs the recurrence over each review's own length only, so the logits do not change
    with the amount of padding after it.
    """

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        pad_index: int,
        embedding_dim: int,
        hidden_size: int,
        num_layers: int,
        cell: str,
        bidirectional: bool,
        dropout: float,
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"model.cell={cell!r} is unknown; choose one of: {', '.join(CELLS)}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"model.dropout must be in [0, 1), got {dropout}")
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_index)
        self.rnn = CELLS[cell](
            embedding_dim,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,  # between stacked layers only
        )
        self.directions = 2 if bidirectional else 1
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.directions * hidden_size, num_classes)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        x = self.dropout(self.embedding(ids))  # (B, T, E)
        # pack_padded_sequence wants lengths on the CPU; an empty row still takes one step.
        packed = pack_padded_sequence(
            x, lengths.cpu().clamp(min=1), batch_first=True, enforce_sorted=False
        )
        _, h_n = self.rnn(packed)
        if isinstance(h_n, tuple):  # the LSTM also returns its cell state c_n
            h_n = h_n[0]
        batch = ids.shape[0]
        h_n = h_n.view(self.rnn.num_layers, self.directions, batch, self.rnn.hidden_size)
        # The top layer's state after each direction has read the whole review:
        # forward ends at the last real token, backward at the first.
        last = h_n[-1].transpose(0, 1).reshape(batch, -1)  # (B, directions * H)
        return self.head(self.dropout(last))  # (B, num_classes)


class BagOfEmbeddings(nn.Module):
    """fastText-style baseline: z = W · (1/n) Σ_t e(w_t) + b, blind to word order."""

    def __init__(
        self, vocab_size: int, num_classes: int, pad_index: int, embedding_dim: int, dropout: float
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_index)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(embedding_dim, num_classes)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        summed = self.embedding(ids).sum(dim=1)  # (B, E); <pad> embeds to zero
        mean = summed / lengths.clamp(min=1).unsqueeze(1).to(summed.dtype)  # (B, E)
        return self.head(self.dropout(mean))  # (B, num_classes)


class TokenClassifierModule(ClassifierModule):
    """A classifier of token sequences: batches are (ids, lengths, labels)."""

    input_kind = "tokens"

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        return self.net(ids, lengths)

    def step(self, batch: tuple[Tensor, Tensor, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """Forward and data loss: L = −(1/N) Σ log softmax(z)_y."""
        ids, lengths, y = batch
        logits = self(ids, lengths)  # (B, num_classes)
        return F.cross_entropy(logits, y), logits, y

    def log_train_metrics(self, outputs: Tensor, target: Tensor) -> None:
        super().log_train_metrics(outputs, target)
        # The clip stage keeps ‖g‖ before clipping; logged only here, on log steps.
        grad_norm = getattr(self, "last_grad_norm", None)
        if isinstance(grad_norm, torch.Tensor):
            self.log("train/grad_norm", grad_norm, batch_size=len(target))


class SentimentClassifier(TokenClassifierModule):
    """``model=sentiment``: the recurrent classifier, trained by the shared manual-backprop step."""

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        pad_index: int = 0,
        cell: str = "lstm",
        embedding_dim: int = 64,
        hidden_size: int = 64,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        **backprop: Any,
    ) -> None:
        super().__init__(num_classes=num_classes, **backprop)
        self.save_hyperparameters()
        self.net = RecurrentEncoder(
            vocab_size, num_classes, pad_index, embedding_dim, hidden_size, num_layers,
            cell, bidirectional, dropout,
        )  # fmt: skip


class BagOfEmbeddingsClassifier(TokenClassifierModule):
    """``model=bag_of_embeddings``: the order-blind baseline the negation corpus defeats."""

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        pad_index: int = 0,
        embedding_dim: int = 64,
        dropout: float = 0.0,
        **backprop: Any,
    ) -> None:
        super().__init__(num_classes=num_classes, **backprop)
        self.save_hyperparameters()
        self.net = BagOfEmbeddings(vocab_size, num_classes, pad_index, embedding_dim, dropout)
