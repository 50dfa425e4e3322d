"""Back propagation through time, seen: ‖∂L/∂h_t‖ per step dies in a plain RNN and survives in an
LSTM on the same long reviews; the bptt/grad_norm_t and conv filter pictures reach TensorBoard."""

from __future__ import annotations

from pathlib import Path

import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from bp_app.backprop.explicit.losses import output_error
from bp_app.backprop.explicit.networks import program
from bp_app.callbacks.backprop_pictures import BPTT_PNG, BPTT_TAG
from bp_app.data.negation import NegationDataModule
from bp_app.models.sentiment import RecurrentEncoder
from bp_app.train import train
from tests.conftest import FAST
from tests.tensorboard_events import read_events


def grad_norm_t(cell: str, ids, lengths, y, vocab_size: int) -> torch.Tensor:
    torch.manual_seed(0)
    net = RecurrentEncoder(vocab_size, 2, 0, 32, 32, 1, cell, False, 0.0)
    with torch.no_grad():
        z, tape = program(net)(net, ids, lengths)
        tape.watch_time = True
        tape.backward(output_error("cross_entropy", z, y))
    return tape.records["grad_norm_t"]  # (T,)


def test_rnn_gradient_vanishes_through_time_where_the_lstm_s_does_not():
    """Reviews + 40 filler words: ‖∂L/∂h_T‖ / ‖∂L/∂h_1‖ of the RNN ≥ 100 × the LSTM's."""
    data = NegationDataModule(train_size=64, val_size=8, test_size=8, filler_words=40, max_len=96)
    data.setup("fit")
    ids, lengths, y = next(iter(data.train_dataloader()))
    assert lengths.min() > 40
    vocab = data.model_inputs()["vocab_size"]
    ratios = {}
    for cell in ("rnn", "lstm"):
        norms = grad_norm_t(cell, ids, lengths, y, vocab)
        assert len(norms) == ids.shape[1] and bool((norms > 0).all())
        ratios[cell] = float(norms[-1] / norms[0])
    assert ratios["rnn"] >= 100 * ratios["lstm"], ratios


def images(log_dir: Path) -> set[str]:
    tags = set()
    for path in Path(log_dir).glob("events.out.tfevents.*"):
        events = EventAccumulator(str(path), size_guidance={"images": 0})
        events.Reload()
        tags.update(events.Tags()["images"])
    return tags


def test_bptt_picture_reaches_tensorboard_and_the_run_dir(train_config, tmp_path):
    overrides = ["experiment=vanishing_through_time", "hydra.mode=RUN", "data.train_size=128",
                 "data.val_size=32", "data.test_size=32", "trainer.log_every_n_steps=1",
                 "test=false"]  # fmt: skip
    train(train_config([*FAST, *overrides]))
    run = tmp_path / "run"
    assert BPTT_TAG in images(run / "tensorboard")
    assert (run / BPTT_PNG).stat().st_size > 1000
    scalars, _ = read_events(run / "tensorboard")
    assert scalars["bptt/log10_last_to_first"][-1][1] > 2  # the RNN's gradient shrinks


def test_conv_filter_grids_reach_tensorboard(train_config, tmp_path):
    train(train_config([*FAST, "model=cnn", "callbacks.backprop_pictures.every_n_steps=5",
                        "test=false"]))  # fmt: skip
    assert {"conv/filters", "conv/filter_grads"} <= images(tmp_path / "run" / "tensorboard")
