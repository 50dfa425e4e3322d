"""The test set's per-class callbacks count from test_step's own forward: one forward per test
batch, and the same confusion matrix and class scores as a second forward would give."""

from __future__ import annotations

import torch

from bp_app.callbacks.class_scores import ClassScores
from bp_app.callbacks.image_panels import ImagePanels
from bp_app.models.mlp import MLPClassifier
from tests.conftest import RandomImages, quiet_trainer


class CountingMLP(MLPClassifier):
    """Counts the network's forwards."""

    forwards = 0

    def forward(self, x):
        self.forwards += 1
        return super().forward(x)


class Silent(CountingMLP):
    """A test_step that hands the callbacks nothing: they run their own forward."""

    def test_step(self, batch, batch_idx):
        super().test_step(batch, batch_idx)


class Keep(ClassScores):
    """Keeps the confusion counts the callback would write."""

    def on_test_epoch_end(self, trainer, pl_module):
        self.kept = self.confusion.clone()
        super().on_test_epoch_end(trainer, pl_module)


def counted_test(tmp_path, cls: type) -> tuple[int, int, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = cls(input_shape=[1, 2, 3], num_classes=4, optimizer={"name": "adam"})
    scores, panels = Keep(), ImagePanels(dirpath=tmp_path / cls.__name__)
    original = panels.on_test_epoch_end
    kept = {}

    def keep_panel(trainer, pl_module):
        kept["confusion"] = panels.confusion.clone()
        original(trainer, pl_module)

    panels.on_test_epoch_end = keep_panel
    trainer = quiet_trainer(callbacks=[scores, panels])
    trainer.test(model, datamodule=RandomImages(batch_size=3))  # 8 test images
    return trainer.num_test_batches[0], model.forwards, scores.kept, kept["confusion"]


def test_one_forward_per_test_batch_and_the_same_counts(tmp_path):
    batches, forwards, scores, panel = counted_test(tmp_path, CountingMLP)
    _, forwards_silent, scores_silent, panel_silent = counted_test(tmp_path, Silent)
    assert forwards == batches and forwards_silent == 3 * batches  # plus one per callback
    assert scores.sum() == panel.sum() == 8
    assert torch.equal(scores, scores_silent) and torch.equal(panel, panel_silent)
    assert torch.equal(scores, panel)
