"""The recurrent classifier and the bag of embeddings: padding invariance, training, pairing."""

from __future__ import annotations

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from bp_app.config.checks import check_train_config
from bp_app.errors import ConfigError
from bp_app.models.sentiment import BagOfEmbeddings, RecurrentEncoder
from bp_app.train import train
from tests.conftest import FAST, compose_config


def padded(ids: list[int], width: int) -> torch.Tensor:
    return torch.tensor([ids + [0] * (width - len(ids))])  # (1, width)


@pytest.mark.parametrize(
    ("cell", "layers", "bidirectional"),
    [("rnn", 1, False), ("lstm", 2, True), ("gru", 1, True)],
)
def test_recurrent_logits_do_not_change_with_padding(cell, layers, bidirectional):
    torch.manual_seed(0)
    net = RecurrentEncoder(30, 2, 0, 8, 16, layers, cell, bidirectional, dropout=0.0).eval()
    review = [4, 9, 17, 3, 22]
    short = net(padded(review, 5), torch.tensor([5]))
    long = net(padded(review, 40), torch.tensor([5]))
    # In a batch beside a longer review, so its row is padded and packed among others.
    batch = torch.cat([padded(review, 12), padded(list(range(1, 13)), 12)])
    in_batch = net(batch, torch.tensor([5, 12]))[:1]
    assert short.shape == (1, 2)
    torch.testing.assert_close(short, long)
    torch.testing.assert_close(short, in_batch)
    # Read as input, the padding would change the logits: the checks above can fail.
    assert not torch.allclose(net(padded(review, 40), torch.tensor([40])), long)


def test_bag_of_embeddings_ignores_padding_and_order():
    torch.manual_seed(0)
    net = BagOfEmbeddings(30, 2, 0, 8, dropout=0.0).eval()
    a = net(padded([4, 9, 17], 3), torch.tensor([3]))
    torch.testing.assert_close(a, net(padded([4, 9, 17], 20), torch.tensor([3])))
    torch.testing.assert_close(a, net(padded([17, 4, 9], 3), torch.tensor([3])))  # order-blind


def test_sentiment_model_on_image_data_fails_naming_the_text_sets(train_config):
    cfg = train_config(["model=sentiment"])  # the default data is digits: images
    with pytest.raises(ConfigError, match="data=imdb, data=negation, data=text_csv"):
        check_train_config(cfg)


SMALL_NEGATION = [
    *FAST,
    "data=negation",
    "data.train_size=1500",
    "data.val_size=200",
    "data.test_size=500",
    "data.batch_size=32",
    "optimizer=adam",
    "optimizer.lr=0.005",
    "trainer.max_epochs=4",
    "trainer.log_every_n_steps=20",
    "callbacks=none",
]


def test_lstm_beats_the_bag_of_embeddings_on_the_negation_corpus(tmp_path):
    # Two runs, two run directories: bp-train never writes over a finished run.
    lstm, bag = (
        train(compose_config("train", [*SMALL_NEGATION, f"model={m}", "logger=none"], tmp_path / m))
        for m in ("sentiment", "bag_of_embeddings")
    )
    # Word order decides these labels: the LSTM reads it, the mean of embeddings cannot.
    print(f"negation, small run: LSTM {lstm['test/acc']:.3f}, bag {bag['test/acc']:.3f}")
    assert lstm["test/acc"] >= 0.9
    assert bag["test/acc"] <= 0.7
    assert lstm["test/acc"] - bag["test/acc"] >= 0.25


def test_recurrent_training_logs_the_gradient_norm_on_log_steps(train_config, tmp_path):
    overrides = [*SMALL_NEGATION, "model=sentiment", "model.cell=gru", "logger=tensorboard"]
    overrides += ["data.train_size=320", "trainer.max_epochs=1", "trainer.log_every_n_steps=5"]
    train(train_config(overrides))
    accumulator = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    accumulator.Reload()
    norms = [event.value for event in accumulator.Scalars("train/grad_norm")]
    assert len(norms) == 2  # 10 steps, logged on every 5th only
    assert all(n > 0 for n in norms)
