"""Private torch APIs, torch.utils.tensorboard's included (checked against torch 2.14.1)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


def file_writer(summary_writer: Any) -> Any:
    """The SummaryWriter's event-file writer, the one Lightning's logger writes through
    (``SummaryWriter._get_file_writer``, private; torch 2.14.1)."""
    return summary_writer._get_file_writer()


def foreach_norm(tensors: list[Tensor]) -> list[Tensor]:
    """‖t‖₂ of every tensor in one fused pass (``torch._foreach_norm``, private; torch 2.14.1)."""
    return list(torch._foreach_norm(tensors))
