"""Batch, stochastic and mini-batch descent: the exact full-data gradient, update counts, checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from torch import nn

from bp_app.data.in_memory import InMemoryDataModule
from bp_app.errors import ConfigError
from bp_app.models.mlp import MLPClassifier
from bp_app.optim.regularization import Regularization
from bp_app.train import train
from tests.conftest import EVERY_EPOCH, FAST, quiet_trainer


class RandomImages(InMemoryDataModule):
    """23 float64 'images' of 2x3 pixels: with batch size 5 the last batch holds 3."""

    def load_splits(self):
        generator = torch.Generator().manual_seed(3)
        x = torch.randn(23, 1, 2, 3, generator=generator, dtype=torch.float64)
        y = torch.randint(0, 4, (23,), generator=generator)
        return {"train": (x, y), "val": (x[:4], y[:4]), "test": (x[:4], y[:4])}

    def model_inputs(self):
        return {"input_shape": [1, 2, 3], "num_classes": 4}


class GradientRecorder(pl.Callback):
    """Keeps a copy of every gradient the optimizer is about to apply."""

    def __init__(self) -> None:
        self.updates: list[dict[str, torch.Tensor]] = []

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        grads = {n: p.grad.clone() for n, p in pl_module.named_parameters() if p.grad is not None}
        self.updates.append(grads)


@pytest.mark.parametrize("regularization", [{}, {"l1": 0.01, "l2": 0.02}])
def test_accumulated_batch_gradient_is_the_full_data_gradient(regularization):
    data = RandomImages(batch_size=5, seed=1)  # batches of 5, 5, 5, 5, 3, shuffled
    torch.manual_seed(0)
    model = MLPClassifier(
        **data.model_inputs(),
        hidden_sizes=[7],
        optimizer={"name": "sgd", "lr": 0.1},
        regularization=regularization,
        descent={"mode": "batch"},
    ).double()
    reference = MLPClassifier(**data.model_inputs(), hidden_sizes=[7], optimizer={"name": "sgd"})
    reference = reference.double()
    reference.load_state_dict(model.state_dict())
    recorder = GradientRecorder()
    trainer = quiet_trainer(
        max_epochs=1,
        precision="64-true",
        callbacks=[recorder],
    )
    trainer.fit(model, datamodule=data)

    assert trainer.num_training_batches == 5
    assert len(recorder.updates) == 1 and trainer.global_step == 1  # one update per epoch
    x, y = data.splits["train"]
    loss = nn.functional.cross_entropy(reference(x), y)  # the mean over all 23 in one pass
    penalty = Regularization(**regularization).penalty(reference)
    (loss if penalty is None else loss + penalty).backward()
    for name, p in reference.named_parameters():
        torch.testing.assert_close(recorder.updates[0][name], p.grad, rtol=1e-10, atol=0)


def last_checkpoint(run: Path) -> dict:
    return torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)


def test_batch_descent_updates_once_per_epoch_in_chunks(train_config, tmp_path: Path):
    # 1,257 training digits in chunks of 500, 500 and 257: three backwards, one update.
    cfg = train_config(
        [*FAST, "descent=batch", "data.batch_size=500", "trainer.max_epochs=2", EVERY_EPOCH]
    )
    assert cfg.data.batch_size == 500 and cfg.descent.mode == "batch"
    metrics = train(cfg)
    assert last_checkpoint(tmp_path / "run")["global_step"] == 2
    assert metrics["val/loss"] > 0


def test_stochastic_descent_updates_once_per_example(train_config, tmp_path: Path):
    cfg = train_config([*FAST, "descent=stochastic", "+trainer.limit_train_batches=40"])
    assert cfg.data.batch_size == 1  # set by descent=stochastic
    train(cfg)
    assert last_checkpoint(tmp_path / "run")["global_step"] == 40


def test_minibatch_descent_updates_once_per_batch(train_config, tmp_path: Path):
    cfg = train_config([*FAST, "descent=minibatch", "data.batch_size=100", "logger=none"])
    train(cfg)
    assert last_checkpoint(tmp_path / "run")["global_step"] == 13  # ceil(1257 / 100)


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        (["data.batch_size=0"], "data.batch_size=0 is out of range: it must be an integer in [1"),
        (["data.batch_size=-3"], "data.batch_size=-3 is out of range"),
        (["descent=stochastic", "data.batch_size=8"], "descent=stochastic updates once per"),
        (["descent.mode=full"], "descent.mode='full' is unknown"),
    ],
)
@pytest.mark.usefixtures("forbid_data_loading")
def test_bad_descent_settings_fail_before_data_loads(train_config, overrides, fragment):
    with pytest.raises(ConfigError) as error:
        train(train_config([*FAST, *overrides]))
    assert fragment in str(error.value)
