"""What every text data set shares: labelled texts in, token ids, lengths and labels out."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from bp_app.data.in_memory import InMemoryDataModule
from bp_app.data.loader_settings import LoaderSettings
from bp_app.data.tensor_loader import TensorBatchLoader
from bp_app.data.text import PAD_INDEX, TextEncoder, trim_to_longest
from bp_app.errors import DataError

log = logging.getLogger(__name__)

# Texts and integer labels of one split.
LabelledTexts = tuple[list[str], list[int]]


class TextDataModule(InMemoryDataModule):
    """Fits the vocabulary on the training texts, encodes every split once, batches them by slices.

    Subclasses implement ``load_texts`` and set ``label_names``. A batch is
    ``(ids (B, T) int64, lengths (B,), labels (B,))`` with T the longest review in the batch.
    """

    kind = "tokens"
    loader_defaults = LoaderSettings(batch_size=64, eval_batch_size=512)

    def __init__(
        self,
        max_len: int = 256,
        max_vocab_size: int = 20000,
        min_freq: int = 1,
        **loader: Any,
    ) -> None:
        super().__init__(**loader)  # batch_size, eval_batch_size, seed, steps_per_batch
        self.max_len = max_len
        self.max_vocab_size = max_vocab_size
        self.min_freq = min_freq
        self.label_names: list[str] = []
        self.encoder: TextEncoder | None = None

    def load_texts(self) -> dict[str, LabelledTexts]:
        """Return {"train": (texts, labels), "val": ..., "test": ...}; set ``label_names``."""
        raise NotImplementedError

    def load_splits(self) -> dict[str, tuple[Tensor, ...]]:
        texts = self.load_texts()
        for split, (rows, _) in texts.items():
            if not rows:
                raise DataError(f"the {split} split of {type(self).__name__} has no texts")
        self.encoder = TextEncoder.fit(
            texts["train"][0], self.max_vocab_size, self.min_freq, self.max_len
        )
        log.info("Vocabulary: %d entries from the training split", self.encoder.vocab_size)
        splits = {}
        for split, (rows, labels) in texts.items():
            encoded = self.encoder.encode(rows)
            splits[split] = (encoded.ids, encoded.lengths, torch.tensor(labels, dtype=torch.long))
        return splits

    def _loaded_encoder(self) -> TextEncoder:
        if self.encoder is None:
            self.setup()
        assert self.encoder is not None
        return self.encoder

    def model_inputs(self) -> dict[str, Any]:
        """The vocabulary is learned from the data, so the data is read here if not yet."""
        encoder = self._loaded_encoder()
        return {
            "vocab_size": encoder.vocab_size,
            "num_classes": len(self.label_names),
            "pad_index": PAD_INDEX,
        }

    def prediction_state(self) -> dict[str, Any]:
        """The trained tokenizer as a JSON string, the truncation length and the label names."""
        encoder = self._loaded_encoder()
        return {
            "tokenizer": encoder.to_json(),
            "max_len": self.max_len,
            "labels": list(self.label_names),
        }

    def setup(self, stage: str | None = None) -> None:
        super().setup(stage)
        trainer = self.trainer
        if stage == "fit" and trainer is not None and trainer.is_global_zero:
            # Beside the checkpoints, so the vocabulary can be read without loading one.
            path = Path(trainer.default_root_dir) / "tokenizer.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(self._loaded_encoder().to_json())

    def _loader(self, split: str, batch_size: int, shuffle: bool) -> TensorBatchLoader:
        loader = super()._loader(split, batch_size, shuffle)
        loader.collate = trim_to_longest
        return loader


def split_indices(n: int, val_size: int, test_size: int, seed: int) -> dict[str, Tensor]:
    """A fixed random split of ``n`` rows (by ``seed``, independent of the training seed)."""
    if val_size < 1 or test_size < 0 or val_size + test_size >= n:
        raise DataError(
            f"cannot take {val_size} validation and {test_size} test rows from {n} rows: "
            "lower data.val_size / data.test_size (or the fractions) or add rows"
        )
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return {
        "val": order[:val_size],
        "test": order[val_size : val_size + test_size],
        "train": order[val_size + test_size :],
    }
