"""Helpers shared by the optimization tests (optimizers, regularization, descent, schedules)."""

from __future__ import annotations

import pytest
import torch

# Lightning 2.6 rewrites last.ckpt only when a top-k checkpoint is saved (val/loss improved):
# keeping every epoch's checkpoint makes last.ckpt the run's final state.
EVERY_EPOCH = "callbacks.model_checkpoint.save_top_k=-1"


@pytest.fixture
def forbid_data_loading(monkeypatch):
    """Make loading the digits fail loudly: config errors must come before any data loads."""

    def no_loading(self):
        raise AssertionError("data was loaded before the config was checked")

    monkeypatch.setattr("bp_app.data.digits.DigitsDataModule.load_splits", no_loading)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors gain nothing from intra-op threads; on a loaded 2-core machine the threads'
    spin-waits made a 100-step float64 comparison take 25 s instead of 0.2 s."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
