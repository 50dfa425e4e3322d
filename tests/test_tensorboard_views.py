"""TensorBoard's TEXT, GRAPHS, PROJECTOR and PR CURVES tabs and the per-class scalars, read back
from the event files a real run writes."""

from __future__ import annotations

import logging
import re

import pytest
import torch
from tensorboard.util.tensor_util import make_ndarray

from bp_app.config.build import build_datamodule
from bp_app.train import train
from tests.conftest import FAST
from tests.tensorboard_events import accumulators, hparams_rows, text
from tests.test_sentiment import SMALL_NEGATION


def test_a_classifier_run_writes_config_command_graph_and_per_class_scores(train_config, tmp_path):
    cfg = train_config([*FAST, "logger=tensorboard", "optimizer.lr=0.002"])
    metrics = train(cfg)
    ((_, events),) = [(d, e) for d, e in accumulators(tmp_path / "run") if e.Tags()["graph"]]
    (step, config), *_ = text(events, "run/config")
    assert step == 0 and "optimizer:" in config and "lr: 0.002" in config
    assert text(events, "run/command")[0][1].strip().startswith("bp-train")
    ops = [node.op for node in events.Graph().node]
    assert ops.count("aten::linear") == 2, ops  # the MLP's hidden and output layers

    scalars = {tag for _, e in accumulators(tmp_path / "run") for tag in e.Tags()["scalars"]}
    assert "hp_metric" not in scalars
    values = {
        tag: e.Scalars(tag)[-1].value
        for _, e in accumulators(tmp_path / "run")
        for tag in e.Tags()["scalars"]
        if tag.startswith(("test/precision/", "test/recall/"))
    }
    assert len(values) == 20 and all(0.0 <= v <= 1.0 for v in values.values())
    # Σ_c recall_c · n_c / N is the accuracy: the per-class numbers count the same test set.
    datamodule = build_datamodule(cfg)
    datamodule.setup("test")
    labels = torch.cat([y for _, y in datamodule.test_dataloader()])
    support = torch.bincount(labels, minlength=10).double()
    accuracy = sum(values[f"test/recall/{c}"] * support[c] for c in range(10)) / len(labels)
    assert accuracy == pytest.approx(metrics["test/acc"], abs=1e-5)
    ((_, hparams, _),) = hparams_rows(tmp_path / "run")  # one HPARAMS row for the run
    assert hparams["optimizer.lr"] == pytest.approx(0.002)


@pytest.mark.parametrize(
    ("overrides", "op"),
    [
        (["model=cnn", "data=digits"], "aten::_convolution"),
        (["experiment=airline_forecast"], "aten::linear"),
    ],
)
def test_the_cnn_and_the_forecaster_graphs_trace(train_config, tmp_path, overrides, op):
    quick = ["+trainer.limit_train_batches=1", "test=false", "callbacks=none", "logger=tensorboard"]
    train(train_config([*overrides, *FAST, *quick]))
    graphs = [e.Graph() for _, e in accumulators(tmp_path / "run") if e.Tags()["graph"]]
    assert len(graphs) == 1 and op in [node.op for node in graphs[0].node]


def test_sentiment_writes_word_embeddings_and_the_pr_curve(train_config, tmp_path, caplog):
    overrides = [*SMALL_NEGATION, "model=sentiment", "logger=tensorboard", "trainer.max_epochs=1"]
    overrides += ["data.train_size=320", "callbacks=default", "callbacks.gradient_flow=null"]
    cfg = train_config(overrides)
    with caplog.at_level(logging.INFO, logger="bp_app.callbacks.run_summary"):
        train(cfg)
    log_dir = tmp_path / "run" / "tensorboard"
    # The graph of packed sequences may or may not trace; either way the run went on.
    traced = any(e.Tags()["graph"] for _, e in accumulators(log_dir))
    skipped = [r for r in caplog.records if "TensorBoard graph skipped" in r.getMessage()]
    assert traced != bool(skipped)

    # PROJECTOR: the embedding matrix, one row per vocabulary word, labelled with the word.
    projector = (log_dir / "projector_config.pbtxt").read_text()
    assert 'tensor_name: "word_embeddings' in projector
    paths = dict(re.findall(r'(metadata_path|tensor_path): "([^"]+)"', projector))
    words = (log_dir / paths["metadata_path"]).read_text().splitlines()
    rows = [line.split("\t") for line in (log_dir / paths["tensor_path"]).read_text().splitlines()]
    datamodule = build_datamodule(cfg)
    datamodule.setup("fit")
    tokenizer = datamodule.encoder.tokenizer
    assert words == [tokenizer.id_to_token(i) for i in range(tokenizer.get_vocab_size())]
    assert len(rows) == len(words) and {len(r) for r in rows} == {cfg.model.embedding_dim}

    # PR CURVES: counts at each threshold over the whole test set, and 2 classes' scores.
    ((_, events),) = [
        (d, e) for d, e in accumulators(log_dir) if "test/pr_curve" in e.Tags()["tensors"]
    ]
    tp, fp, tn, fn, precision, recall = make_ndarray(
        events.Tensors("test/pr_curve")[-1].tensor_proto
    )
    positives = int(sum(int(y.sum()) for *_, y in _test_batches(datamodule)))
    assert tp[0] + fn[0] == positives and tp[0] + fp[0] + tn[0] + fn[0] == cfg.data.test_size
    assert tp[0] == positives and fn[0] == 0  # threshold 0: everything is called positive
    assert list(tp) == sorted(tp, reverse=True) and (recall >= 0).all() and (recall <= 1).all()
    tags = set(events.Tags()["scalars"])
    assert {"test/precision/0", "test/precision/1", "test/recall/0", "test/recall/1"} <= tags


def _test_batches(datamodule):
    datamodule.setup("test")
    return list(datamodule.test_dataloader())
