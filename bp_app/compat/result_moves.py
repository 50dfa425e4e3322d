"""``self.log`` without re-moving a logged value's running state (Lightning 2.6.6, private).

Each ``self.log`` call ends in ``_ResultCollection.log``, which calls ``_ResultMetric.to(device)``
on the key's running state. That ``to`` rebuilds the metric's whole ``__dict__`` through
``apply_to_collection`` (dozens of entries) even when its tensors already sit on that device:
the most expensive part of a logging step in bp-bench's profile. ``moves_only_when_needed``
wraps it: a tensor value whose state tensors are on the target device is returned as it is;
every other call (another device, a dtype, a torchmetrics Metric) goes to Lightning's ``to``.
"""

from __future__ import annotations

from typing import Any

import torch
from pytorch_lightning.trainer.connectors.logger_connector.result import _ResultMetric

# The running state of a logged tensor: its reduced value and, for means, the batch-size sum.
STATE = ("value", "cumulated_batch_size")


def moves_only_when_needed() -> bool:
    """Install the wrapper on ``_ResultMetric.to`` once per process; True when it is in place."""
    if getattr(_ResultMetric.to, "__wrapped__", None) is not None:
        return True
    lightnings_to = _ResultMetric.to

    def to(self: _ResultMetric, *args: Any, **kwargs: Any) -> _ResultMetric:
        if self.is_tensor and not kwargs and len(args) == 1 and isinstance(args[0], torch.device):
            state = self.__dict__
            if "value" in state and all(state[k].device == args[0] for k in STATE if k in state):
                return self  # already there: Lightning's to would rebuild the same __dict__
        return lightnings_to(self, *args, **kwargs)

    to.__wrapped__ = lightnings_to
    _ResultMetric.to = to
    return True
