"""Text to tensors: a basic_english-style tokenizer, a vocabulary fit on the training split, and
the collate that trims each batch to its longest review.

torchtext is retired upstream (its compiled extension does not load on current torch), so its
roles are kept here on Hugging Face ``tokenizers``: the trained tokenizer is one JSON string that
travels inside every checkpoint, and prediction needs nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers
from torch import Tensor

from bp_app.errors import ConfigError

PAD, UNK = "<pad>", "<unk>"
PAD_INDEX, UNK_INDEX = 0, 1  # the trainer adds the special tokens first, in this order


def basic_english() -> Tokenizer:
    """An untrained word-level tokenizer in the spirit of torchtext's ``basic_english``:
    lowercase, HTML line breaks and double quotes dropped, every punctuation mark its own token."""
    tokenizer = Tokenizer(models.WordLevel(unk_token=UNK))
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Lowercase(),
            normalizers.Replace(Regex(r"<br\s*/?>"), " "),  # IMDB reviews keep <br /> tags
            normalizers.Replace('"', " "),
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation("isolated")]
    )
    return tokenizer


def train_vocabulary(texts: Iterable[str], max_size: int, min_freq: int) -> Tokenizer:
    """The tokenizer with a vocabulary of at most ``max_size`` entries (specials included): the
    most frequent words seen at least ``min_freq`` times; every other word maps to <unk>."""
    if max_size < 3:
        raise ConfigError(
            f"data.max_vocab_size must be >= 3 (<pad>, <unk> and a word), got {max_size}"
        )
    if min_freq < 1:
        raise ConfigError(f"data.min_freq must be >= 1, got {min_freq}")
    tokenizer = basic_english()
    trainer = trainers.WordLevelTrainer(
        vocab_size=max_size, min_frequency=min_freq, special_tokens=[PAD, UNK], show_progress=False
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


@dataclass
class Encoded:
    """A set of texts as a padded id matrix and the true length of each row."""

    ids: Tensor  # (N, T) int32, T = the longest row after truncation; <pad> after each row's end
    lengths: Tensor  # (N,) int64, tokens per row after truncation


class TextEncoder:
    """A trained tokenizer plus the truncation length: text in, padded ids and lengths out."""

    def __init__(self, tokenizer: Tokenizer, max_len: int) -> None:
        if max_len < 1:
            raise ConfigError(f"data.max_len must be >= 1, got {max_len}")
        if tokenizer.token_to_id(PAD) != PAD_INDEX or tokenizer.token_to_id(UNK) != UNK_INDEX:
            raise ValueError(
                f"the tokenizer must map {PAD} to {PAD_INDEX} and {UNK} to {UNK_INDEX}"
            )
        self.tokenizer = tokenizer
        self.max_len = max_len
        tokenizer.enable_truncation(max_len)  # long reviews keep their first max_len tokens
        tokenizer.enable_padding(pad_id=PAD_INDEX, pad_token=PAD)  # to the longest in each call
        # A review that literally says "<pad>" is words, not padding (not kept by to_str()).
        tokenizer.encode_special_tokens = True

    @classmethod
    def fit(cls, texts: Sequence[str], max_size: int, min_freq: int, max_len: int) -> TextEncoder:
        """Train the vocabulary on ``texts`` (the training split only: nothing leaks from test)."""
        return cls(train_vocabulary(texts, max_size, min_freq), max_len)

    @classmethod
    def from_json(cls, text: str, max_len: int) -> TextEncoder:
        """The encoder a checkpoint or ``tokenizer.json`` stored."""
        return cls(Tokenizer.from_str(text), max_len)

    def to_json(self) -> str:
        return self.tokenizer.to_str()

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size()

    def words(self, text: str) -> list[str]:
        """The tokens of ``text`` before truncation and vocabulary lookup."""
        normalized = self.tokenizer.normalizer.normalize_str(text)
        return [word for word, _ in self.tokenizer.pre_tokenizer.pre_tokenize_str(normalized)]

    def encode(self, texts: Sequence[str]) -> Encoded:
        """Ids of every text, truncated to ``max_len`` and padded with <pad> to the longest."""
        if not texts:
            return Encoded(torch.zeros(0, 1, dtype=torch.int32), torch.zeros(0, dtype=torch.long))
        encodings = self.tokenizer.encode_batch_fast(list(texts))  # parallel, in Rust
        ids = torch.tensor([e.ids for e in encodings], dtype=torch.int32)  # (N, T)
        mask = torch.tensor([e.attention_mask for e in encodings], dtype=torch.bool)  # (N, T)
        return Encoded(ids, mask.sum(dim=1))


def trim_to_longest(batch: tuple[Tensor, ...]) -> tuple[Tensor, Tensor, Tensor]:
    """Collate for TensorBatchLoader: cut the padding columns no row of this batch uses.

    The split is padded to its longest review; a batch of short ones should not pay for it.
    Reading the maximum syncs with the device once per batch, as packing the sequences must.
    """
    ids, lengths, labels = batch
    longest = max(int(lengths.max()), 1)
    return ids[:, :longest].long(), lengths, labels  # (B, longest) int64 for nn.Embedding
