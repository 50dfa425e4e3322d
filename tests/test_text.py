"""The text pipeline: tokenizer, vocabulary, encoding, collate, and the CSV reader's errors."""

from __future__ import annotations

import pytest
import torch

from bp_app.data.text import PAD_INDEX, UNK_INDEX, TextEncoder, basic_english, trim_to_longest
from bp_app.data.text_csv import TextCSVDataModule
from bp_app.errors import DataError

TRAIN = [
    "The film was GOOD, really good!",
    "the film was bad.<br /><br />Really bad.",
    'A "good" film? Not bad.',
]


def test_tokenizer_lowercases_splits_punctuation_and_drops_markup():
    encoder = TextEncoder(TextEncoder.fit(TRAIN, 100, 1, 50).tokenizer, 50)
    assert encoder.words('It WASN\'T "bad",<br />really!') == [
        "it", "wasn", "'", "t", "bad", ",", "really", "!",
    ]  # fmt: skip
    assert basic_english().pre_tokenizer is not None


def test_vocabulary_is_trained_on_the_given_texts_with_size_and_frequency_limits():
    encoder = TextEncoder.fit(TRAIN, max_size=100, min_freq=1, max_len=50)
    vocab = encoder.tokenizer.get_vocab()
    assert vocab["<pad>"] == PAD_INDEX and vocab["<unk>"] == UNK_INDEX
    assert {"the", "film", "good", "bad", ",", "!", "?"} <= set(vocab)
    assert "<br" not in vocab and "br" not in vocab and '"' not in vocab

    frequent = TextEncoder.fit(TRAIN, max_size=100, min_freq=3, max_len=50)
    # "good", "bad", "film" and "." occur 3 times or more; "the", "was", "really" twice.
    assert set(frequent.tokenizer.get_vocab()) == {"<pad>", "<unk>", "good", "bad", "film", "."}

    small = TextEncoder.fit(TRAIN, max_size=4, min_freq=1, max_len=50)
    assert small.vocab_size == 4  # <pad>, <unk> and the two most frequent words


def test_encoding_pads_truncates_and_maps_unseen_words_to_unk():
    encoder = TextEncoder.fit(TRAIN, 100, 1, max_len=4)
    encoded = encoder.encode(["good film", "the film was bad and long", "zebra"])
    vocab = encoder.tokenizer.get_vocab()
    assert encoded.ids.shape == (3, 4)
    assert encoded.lengths.tolist() == [2, 4, 1]  # the long one truncated to max_len
    assert encoded.ids[0].tolist() == [vocab["good"], vocab["film"], PAD_INDEX, PAD_INDEX]
    assert encoded.ids[1].tolist() == [vocab[w] for w in ("the", "film", "was", "bad")]
    assert encoded.ids[2].tolist()[:1] == [UNK_INDEX]
    # A review that says "<pad>" is words, not padding.
    literal = encoder.encode(["<pad> good"])
    assert literal.lengths.tolist() == [4] and PAD_INDEX not in literal.ids[0].tolist()


def test_encoder_round_trips_through_json():
    encoder = TextEncoder.fit(TRAIN, 100, 1, max_len=8)
    again = TextEncoder.from_json(encoder.to_json(), max_len=8)
    texts = ["not bad at all, really", "the film"]
    assert torch.equal(encoder.encode(texts).ids, again.encode(texts).ids)


def test_collate_trims_the_batch_to_its_longest_row():
    ids = torch.tensor([[5, 6, 0, 0, 0], [7, 0, 0, 0, 0]], dtype=torch.int32)
    lengths = torch.tensor([2, 1])
    labels = torch.tensor([1, 0])
    trimmed, lengths_out, labels_out = trim_to_longest((ids, lengths, labels))
    assert trimmed.shape == (2, 2) and trimmed.dtype == torch.long
    assert trimmed.tolist() == [[5, 6], [7, 0]]
    assert torch.equal(lengths_out, lengths) and torch.equal(labels_out, labels)


def write(path, text: str, encoding: str = "utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def csv_module(path, **kwargs) -> TextCSVDataModule:
    return TextCSVDataModule(path=str(path), val_fraction=0.2, test_fraction=0.2, **kwargs)


def test_text_csv_reads_labels_and_splits(tmp_path):
    rows = "".join(
        f"review number {i} was {'good' if i % 2 else 'bad'},{i % 2}\n" for i in range(20)
    )
    path = write(tmp_path / "reviews.csv", "text,label\n" + rows)
    datamodule = csv_module(path)
    inputs = datamodule.model_inputs()
    assert inputs["num_classes"] == 2 and inputs["pad_index"] == PAD_INDEX
    assert datamodule.label_names == ["0", "1"]
    sizes = {split: len(t[0]) for split, t in datamodule.splits.items()}
    assert sizes == {"train": 12, "val": 4, "test": 4}

    tsv = write(tmp_path / "reviews.tsv", "body\tstars\n" + "fine, really\tpos\nawful\tneg\n" * 5)
    datamodule = csv_module(tsv, text_column="body", label_column="stars")
    assert datamodule.model_inputs()["num_classes"] == 2
    assert datamodule.label_names == ["neg", "pos"]


@pytest.mark.parametrize(
    ("content", "kwargs", "expected"),
    [
        ("review,label\ngood,1\n", {}, "no column 'text'"),
        ("text,label\ngood,1\n,0\n", {}, "line 3: the 'text' column is empty"),
        ("text,label\ngood,1\nbad,\n", {}, "line 3: the 'label' column is empty"),
        ("text,label\ngood,1\nbad,1\n", {}, "one label only"),
    ],
)
def test_text_csv_bad_input_names_file_line_and_fix(tmp_path, content, kwargs, expected):
    path = write(tmp_path / "mine.csv", content)
    with pytest.raises(DataError) as error:
        csv_module(path, **kwargs).model_inputs()
    assert expected in str(error.value) and str(path) in str(error.value)


def test_text_csv_rejects_a_file_that_is_not_utf8(tmp_path):
    path = write(tmp_path / "latin.csv", "text,label\ngood,1\ncafé crème,0\n", encoding="latin-1")
    with pytest.raises(DataError, match=r"latin\.csv is not UTF-8 text \(line 3"):
        csv_module(path).model_inputs()
    with pytest.raises(DataError, match="does not exist"):
        csv_module(tmp_path / "missing.csv").model_inputs()
    with pytest.raises(DataError, match="data.path is not set"):
        TextCSVDataModule().model_inputs()
