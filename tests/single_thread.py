"""A fixture for the text tests that train: one torch thread for the duration of a test."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def one_thread():
    """Tiny recurrent steps run faster on one thread than on two contending for a busy CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
