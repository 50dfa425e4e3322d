"""The inspect stage's hook, called on the callbacks that define it only (Lightning 2.6.6, private).

Every optimizer step Lightning's plain ``Precision._after_closure`` calls
``on_before_optimizer_step`` on every callback of the trainer (17 in a default bp-train run),
each inside a profiler context named by an f-string of the callback's state key, though two
define it (gradient flow and the NaN guard). With the plain precision plugin and no profiler,
``listening_step_hooks`` replaces that method on the trainer's own plugin by one that calls the
hook on the callbacks that override it, in the trainer's order, then on the module (whose hook
clips, in the mixin), then Lightning's clipping where it applies (automatic optimization only):
what Lightning's does, minus the calls that would do nothing and the profiler contexts.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.plugins.precision import Precision
from pytorch_lightning.profilers import PassThroughProfiler

HOOK = "on_before_optimizer_step"


def listening(callbacks: list[pl.Callback]) -> list[pl.Callback]:
    """The callbacks whose class defines ``on_before_optimizer_step`` (not Callback's no-op)."""
    return [c for c in callbacks if getattr(type(c), HOOK) is not getattr(pl.Callback, HOOK)]


def listening_step_hooks(trainer: pl.Trainer) -> bool:
    """Install the listening-only dispatch on ``trainer``'s precision plugin when it is Lightning's
    plain ``Precision`` and the profiler is off; True when installed (or already)."""
    plugin = trainer.precision_plugin
    if type(plugin) is not Precision or type(trainer.profiler) is not PassThroughProfiler:
        return False
    if "_after_closure" in vars(plugin):
        return True
    seen: dict[str, Any] = {"callbacks": None, "listening": []}

    def after_closure(model: pl.LightningModule, optimizer: Any) -> None:
        # Precision._after_closure (Lightning 2.6.6), the callbacks' loop narrowed to listeners.
        callbacks = trainer.callbacks
        if seen["callbacks"] is not callbacks or len(callbacks) != seen["count"]:
            seen.update(callbacks=callbacks, count=len(callbacks), listening=listening(callbacks))
        # call._call_callback_hooks and _call_lightning_module_hook, without their profiler
        # contexts (the profiler is off): each hook runs under its name, for self.log's checks.
        previous = model._current_fx_name
        model._current_fx_name = HOOK
        for callback in seen["listening"]:
            getattr(callback, HOOK)(trainer, model, optimizer)
        model.on_before_optimizer_step(optimizer)  # the mixin clips here
        model._current_fx_name = previous
        if model.automatic_optimization:  # Lightning's own clipping runs for automatic only
            plugin._clip_gradients(
                model,
                optimizer,
                trainer.gradient_clip_val,
                gradient_clip_algorithm=trainer.gradient_clip_algorithm,
            )

    plugin._after_closure = after_closure
    return True
