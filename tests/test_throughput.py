"""The Throughput callback counts the samples of the timed epochs and reports samples/s."""

from __future__ import annotations

import torch

from bp_app.callbacks.throughput import Throughput
from bp_app.data.tensor_loader import TensorBatchLoader
from bp_app.models.mlp import MLPClassifier
from tests.conftest import quiet_trainer


def test_throughput_times_the_epochs_after_warmup(capsys):
    torch.manual_seed(0)
    model = MLPClassifier(
        input_shape=[1, 4, 4], num_classes=3, hidden_sizes=[8], optimizer={"name": "sgd", "lr": 0.1}
    )
    x, y = torch.randn(40, 1, 4, 4), torch.randint(0, 3, (40,))
    callback = Throughput(warmup_epochs=1)
    trainer = quiet_trainer(
        max_epochs=3,
        callbacks=[callback],
    )
    trainer.fit(model, train_dataloaders=TensorBatchLoader((x, y), batch_size=16))

    assert callback.samples == 2 * 40  # epochs 2 and 3, the last batch of 8 included
    assert callback.seconds > 0 and callback.samples_per_second > 0
    assert "throughput: " in capsys.readouterr().out
