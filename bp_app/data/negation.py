"""An offline sentiment corpus whose labels depend on word order: why recurrent networks exist.

Each review is one clause, or two joined by "but":

    single     "the plot was not very good at all"           label = the clause's polarity
    contrast   "the acting was great, but the ending was dull"  label = the clause after "but"

A clause's polarity is its word's polarity, flipped by a negator ("not", "never", "hardly").
Negation is drawn independently of the label, so on single clauses the label is an XOR of
"negated" and "the word is positive": no weighted sum of word counts gets more than 3 of every 4
right. A contrast review has the same bag of words as the review with its clauses swapped, whose
label is the opposite: word counts are at chance there. A bag-of-words model (any linear function
of the counts, the mean of embeddings included) is therefore bounded by

    accuracy ≤ 0.75 · (1 − contrast_fraction) + 0.5 · contrast_fraction    (0.625 by default)

while a recurrent network, reading in order, can approach 100%.
"""

from __future__ import annotations

import random
from typing import Any

from bp_app.data.text_base import LabelledTexts, TextDataModule
from bp_app.errors import DataError

POSITIVE = ("good", "great", "excellent", "wonderful", "brilliant", "enjoyable",
            "funny", "moving", "clever", "charming", "superb", "delightful")  # fmt: skip
NEGATIVE = ("bad", "awful", "terrible", "boring", "dull", "weak",
            "poor", "painful", "clumsy", "tedious", "dreadful", "bland")  # fmt: skip
NEGATORS = ("not", "never", "hardly")
INTENSIFIERS = ("", "very", "really", "truly", "quite", "so", "extremely")
SUBJECTS = ("this", "it", "the film", "the movie", "the plot", "the acting", "the story",
            "the script", "the ending", "the cast", "the music", "the dialogue")  # fmt: skip
VERBS = ("was", "is", "felt", "seemed")
OPENERS = ("", "honestly", "overall", "frankly", "i thought")
CLOSERS = ("", "at all", "to me", "for me", "this time")
LABELS = ["negative", "positive"]
# Words with no sentiment, appended by data.filler_words to move the clause that decides the
# label far from the end of the review (experiment=vanishing_through_time).
FILLERS = ("and", "then", "the", "film", "went", "on", "for", "a", "while", "after", "that")


def clause(rng: random.Random, positive: bool, negation_rate: float) -> str:
    """A clause of the given polarity; negated with probability ``negation_rate``, whatever the
    polarity, so that a negator on its own says nothing about the label."""
    negated = rng.random() < negation_rate
    word = rng.choice(POSITIVE if positive != negated else NEGATIVE)
    words = [rng.choice(SUBJECTS), rng.choice(VERBS)]
    if negated:
        words.append(rng.choice(NEGATORS))
    words += [rng.choice(INTENSIFIERS), word]
    return " ".join(w for w in words if w)


def review(rng: random.Random, contrast_fraction: float, negation_rate: float) -> tuple[str, int]:
    """One review and its label (1 positive, 0 negative)."""
    positive = rng.random() < 0.5
    text = clause(rng, positive, negation_rate)
    if rng.random() < contrast_fraction:
        # The clause before "but" says the opposite; the one after it carries the label.
        text = f"{clause(rng, not positive, negation_rate)}, but {text}"
    words = [rng.choice(OPENERS), text, rng.choice(CLOSERS)]
    return " ".join(w for w in words if w), int(positive)


def generate_reviews(
    n: int, seed: int, contrast_fraction: float = 0.5, negation_rate: float = 0.5
) -> tuple[list[str], list[int]]:
    """``n`` distinct reviews from ``seed``: the same seed gives the same corpus everywhere."""
    if not 0.0 <= contrast_fraction <= 1.0 or not 0.0 <= negation_rate <= 1.0:
        raise DataError(
            "data.contrast_fraction and data.negation_rate must be in [0, 1], "
            f"got {contrast_fraction} and {negation_rate}"
        )
    rng = random.Random(seed)
    seen: dict[str, int] = {}  # distinct texts, so no test review is also a training review
    for _ in range(50 * n):
        if len(seen) == n:
            break
        text, label = review(rng, contrast_fraction, negation_rate)
        seen.setdefault(text, label)
    if len(seen) < n:
        raise DataError(
            f"the negation generator gave only {len(seen)} distinct reviews of the {n} asked; "
            "lower data.train_size / val_size / test_size"
        )
    return list(seen), list(seen.values())


class NegationDataModule(TextDataModule):
    """``data=negation``: reviews generated from ``corpus_seed``, split in the order generated."""

    def __init__(
        self,
        train_size: int = 8000,
        val_size: int = 1000,
        test_size: int = 2000,
        contrast_fraction: float = 0.5,
        negation_rate: float = 0.5,
        corpus_seed: int = 0,
        filler_words: int = 0,
        max_len: int = 64,
        max_vocab_size: int = 1000,
        min_freq: int = 1,
        **loader: Any,
    ) -> None:
        super().__init__(max_len, max_vocab_size, min_freq, **loader)
        self.sizes = {"train": train_size, "val": val_size, "test": test_size}
        self.contrast_fraction = contrast_fraction
        self.negation_rate = negation_rate
        self.corpus_seed = corpus_seed
        if filler_words < 0:
            raise DataError(f"data.filler_words must be >= 0, got {filler_words}")
        self.filler_words = filler_words
        self.label_names = list(LABELS)

    def load_texts(self) -> dict[str, LabelledTexts]:
        if min(self.sizes.values()) < 1:
            raise DataError(
                "data.train_size, data.val_size and data.test_size must be >= 1, got "
                + ", ".join(str(n) for n in self.sizes.values())
            )
        total = sum(self.sizes.values())
        texts, labels = generate_reviews(
            total, self.corpus_seed, self.contrast_fraction, self.negation_rate
        )
        if self.filler_words:
            rng = random.Random(self.corpus_seed + 1)  # fixed with the corpus
            texts = [f"{t} {' '.join(rng.choices(FILLERS, k=self.filler_words))}" for t in texts]
        splits, start = {}, 0
        for split, size in self.sizes.items():
            splits[split] = (texts[start : start + size], labels[start : start + size])
            start += size
        return splits
