"""A negation run through the real bp-train and bp-predict commands, and bp-predict's bad inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from bp_app.errors import ConfigError, DataError
from bp_app.predict import predict
from tests.conftest import FAST, REPO, compose_config, run_command

# One thread: the tiny LSTM steps run faster than on two threads contending for a busy CPU.
TRAIN = [
    *FAST,
    "experiment=sentiment_negation",
    "data.train_size=1500",
    "data.val_size=200",
    "data.test_size=200",
    "data.batch_size=32",
    "optimizer.lr=0.005",
    "trainer.max_epochs=3",
    "logger=none",
]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """bp-train experiment=sentiment_negation, small, as a user runs it."""
    run = tmp_path_factory.mktemp("negation")
    result = run_command("bp_app.train", [*TRAIN, f"hydra.run.dir={run}"], cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "test/acc" in result.stdout
    return run / "checkpoints" / "last.ckpt"


def test_bp_predict_reads_order_from_text_and_from_a_file(checkpoint, tmp_path):
    lines = tmp_path / "reviews.txt"
    lines.write_text("the plot was good, but the acting was awful\nthe film was not boring\n")
    args = [f"ckpt_path={checkpoint}", "text=this was not bad at all", f"inputs={lines}"]
    result = run_command("bp_app.predict", [*args, f"hydra.run.dir={tmp_path}/p"], REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line.split("\t") for line in result.stdout.strip().splitlines()]
    assert [(label, text) for label, _, text in rows] == [
        ("positive", "'this was not bad at all'"),
        ("negative", "'the plot was good, but the acting was awful'"),
        ("positive", "'the film was not boring'"),
    ]
    assert all(0.5 < float(probability) <= 1.0 for _, probability, _ in rows)


def predict_config(checkpoint: Path, tmp_path: Path, *overrides: str):
    return compose_config("predict", [f"ckpt_path={checkpoint}", *overrides], tmp_path / "p")


def test_empty_unknown_and_long_texts_are_handled_and_said_so(checkpoint, tmp_path, capsys):
    lines = tmp_path / "odd.txt"
    long = " ".join(["the film was boring"] * 40)  # 160 tokens, past max_len=64
    lines.write_text(f"\nzebra quokka axolotl\n{long}\n")
    results = predict(predict_config(checkpoint, tmp_path, f"inputs={lines}"))
    empty, unknown, truncated = results
    assert empty["label"] is None and "empty text" in empty["notes"][0]
    assert unknown["label"] in ("negative", "positive")
    assert "no word of it is in the vocabulary" in unknown["notes"][0]
    assert truncated["label"] == "negative"
    assert "only its first 64 of 160 tokens were read" in truncated["notes"][0]
    printed = capsys.readouterr().out
    assert "[empty text: nothing to read]" in printed and "[long text:" in printed


def test_a_file_that_is_not_utf8_is_named(checkpoint, tmp_path):
    bad = tmp_path / "latin.txt"
    bad.write_bytes("fine\ntrès bon film\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin\.txt is not UTF-8 text \(line 2"):
        predict(predict_config(checkpoint, tmp_path, f"inputs={bad}"))
    with pytest.raises(DataError, match="does not exist"):
        predict(predict_config(checkpoint, tmp_path, f"inputs={tmp_path / 'missing.txt'}"))
    with pytest.raises(ConfigError, match="nothing to classify"):
        predict(predict_config(checkpoint, tmp_path))
