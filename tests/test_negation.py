"""The negation corpus: reproducible, order decides every label, word counts cannot."""

from __future__ import annotations

import pytest
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

from bp_app.data.negation import NEGATORS, POSITIVE, NegationDataModule, generate_reviews
from bp_app.errors import DataError


def read_in_order(review: str) -> int:
    """The rule the labels follow, applied left to right: the clause after "but" decides, and a
    negator flips its polarity word."""
    clause = review.split(", but ")[-1].split()
    negated = any(word in NEGATORS for word in clause)
    positive = any(word in POSITIVE for word in clause)
    return int(positive != negated)


def test_generation_is_reproducible_distinct_and_balanced():
    texts, labels = generate_reviews(3000, seed=7)
    assert (texts, labels) == generate_reviews(3000, seed=7)
    assert texts != generate_reviews(3000, seed=8)[0]
    assert len(set(texts)) == len(texts)
    assert 0.45 < sum(labels) / len(labels) < 0.55
    contrast = [t for t in texts if ", but " in t]
    assert 0.45 < len(contrast) / len(texts) < 0.55


def test_word_order_decides_every_label():
    texts, labels = generate_reviews(3000, seed=1)
    assert [read_in_order(t) for t in texts] == labels


def test_a_negator_alone_says_nothing_about_the_label():
    texts, labels = generate_reviews(4000, seed=2)
    negated = [any(w in NEGATORS for w in t.split()) for t in texts]
    for label in (0, 1):
        rows = [n for n, y in zip(negated, labels, strict=True) if y == label]
        assert 0.6 < sum(rows) / len(rows) < 0.8  # 1 − 0.5² in both classes: no signal


def test_a_bag_of_words_classifier_stays_far_below_the_order_rule():
    texts, labels = generate_reviews(6000, seed=3)
    counts = CountVectorizer(token_pattern=r"[^\s,]+").fit_transform(texts)
    classifier = LogisticRegression(max_iter=2000).fit(counts[:5000], labels[:5000])
    # The best weighting of word counts is bounded by 0.625 here; the order rule scores 1.0.
    assert classifier.score(counts[5000:], labels[5000:]) <= 0.7


def test_data_module_splits_and_describes_its_vocabulary():
    datamodule = NegationDataModule(train_size=300, val_size=50, test_size=60)
    inputs = datamodule.model_inputs()
    assert inputs["num_classes"] == 2 and inputs["pad_index"] == 0
    assert 20 < inputs["vocab_size"] < 100
    ids, lengths, labels = datamodule.splits["test"]
    assert ids.shape[0] == lengths.shape[0] == labels.shape[0] == 60
    assert ids.shape[1] == int(lengths.max())
    assert datamodule.prediction_state()["labels"] == ["negative", "positive"]


def test_impossible_settings_fail_with_the_setting_to_change():
    with pytest.raises(DataError, match="contrast_fraction"):
        generate_reviews(10, seed=0, contrast_fraction=1.5)
    with pytest.raises(DataError, match="train_size"):
        NegationDataModule(train_size=0).model_inputs()
