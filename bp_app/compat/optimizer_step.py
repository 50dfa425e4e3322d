"""The update stage's step without Lightning's wrapper chain (Lightning 2.6.6, private).

``LightningOptimizer.step`` runs the manual loop's before-step (global_step's "ready" count),
``Strategy.optimizer_step``, ``Precision.optimizer_step`` (a ``partial`` of ``_wrap_closure``), the
raw optimizer's step, which runs torch's step pre-hooks, then that closure (the inspect hooks and
the clip, in ``_after_closure``), then the update; then the after-step ("completed": global_step).
Four Python frames and a partial per update, that call each other and nothing else when the
strategy keeps Strategy's ``optimizer_step`` (one device), the precision plugin is the plain
``Precision`` and no profiler listens. ``direct_step`` makes the same calls in the same order;
AMP, DDP, FSDP, DeepSpeed and profiled runs keep Lightning's path (``takes_direct_step`` is False
for them).
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.core.optimizer import LightningOptimizer
from pytorch_lightning.plugins.precision import Precision
from pytorch_lightning.profilers import PassThroughProfiler
from pytorch_lightning.strategies import Strategy
from torch.optim.optimizer import _global_optimizer_pre_hooks


def takes_direct_step(trainer: pl.Trainer) -> bool:
    """True when Lightning's step chain would only forward the call (see the module's doc)."""
    strategy = trainer.strategy
    return (
        type(strategy).optimizer_step is Strategy.optimizer_step
        and type(strategy.precision_plugin) is Precision
        and type(trainer.profiler) is PassThroughProfiler
    )


def direct_step(optimizer: LightningOptimizer, trainer: pl.Trainer) -> None:
    """``optimizer.step()`` as Lightning runs it on the plain path, without the wrappers."""
    raw: Any = optimizer._optimizer
    plugin = trainer.strategy.precision_plugin
    model = trainer.lightning_module
    optimizer._on_before_step()  # the manual loop's progress: ready
    if raw._optimizer_step_pre_hooks or _global_optimizer_pre_hooks:
        # Precision._wrap_closure around Lightning's do-nothing closure: the step's pre-hooks,
        # then the closure (the inspect hooks, the clip), then the update.
        raw.step(closure=lambda: plugin._after_closure(model, raw))
    else:
        # No pre-hook to run before the closure: run what it holds, then step without one (the
        # same order, without a lambda and an enable_grad block per update).
        plugin._after_closure(model, raw)
        raw.step()
    optimizer._on_after_step()  # completed: global_step counts this update
