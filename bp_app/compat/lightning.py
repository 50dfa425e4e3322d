"""Private Lightning and Lightning Fabric APIs (checked against 2.6.6, see CHECKED_AGAINST)."""

from __future__ import annotations

import weakref
from typing import Any

from lightning_fabric.utilities.cloud_io import _is_local_file_protocol
from pytorch_lightning.strategies.launchers import _SubprocessScriptLauncher


def batches_that_stepped(trainer: Any) -> int:
    """Lightning's count of batches that stepped: its loggers' step axis.

    ``trainer.fit_loop.epoch_loop._batches_that_stepped`` (private; Lightning 2.6.6).
    """
    return trainer.fit_loop.epoch_loop._batches_that_stepped


def set_batches_that_stepped(trainer: Any, count: int) -> None:
    """Set the loggers' step axis (see ``batches_that_stepped``)."""
    trainer.fit_loop.epoch_loop._batches_that_stepped = count


def is_local_path(path: str) -> bool:
    """True for a local file path, False for s3://, gs://, ... (Fabric's
    ``cloud_io._is_local_file_protocol``, private; Lightning Fabric 2.6.6)."""
    return _is_local_file_protocol(path)


def relaunches_command(launcher: Any) -> bool:
    """True when Lightning starts the other DDP ranks by running ``sys.argv`` again
    (``_SubprocessScriptLauncher``, private; Lightning 2.6.6) and nothing outside does it."""
    return (
        isinstance(launcher, _SubprocessScriptLauncher)
        and launcher.num_processes > 1
        and not launcher.cluster_environment.creates_processes_externally
    )


def request_stop_after_step(trainer: Any) -> None:
    """Make Lightning stop as it does on SIGTERM: after this step, raising SIGTERMException.

    ``trainer._signal_connector.received_sigterm`` (private; Lightning 2.6.6): the flag its own
    SIGTERM handler sets, read by the loops after each training and evaluation batch.
    """
    trainer._signal_connector.received_sigterm = True


# Trainer -> {(module id, callback count): backward_without_hooks' answer}: decided once per fit.
_DECIDED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def backward_without_hooks(trainer: Any, module: Any) -> bool:
    """True when ``module.manual_backward(loss)`` would do nothing but ``loss.backward()``.

    In Lightning 2.6.6 ``manual_backward`` runs ``strategy.backward``: the strategy's
    ``pre_backward`` / ``post_backward`` (no-ops on one device), the precision plugin's (the plain
    ``Precision`` only calls the ``on_before_backward`` / ``on_after_backward`` hooks) and
    ``LightningModule.backward`` (``loss.backward()``). With one device, full precision and no
    override of those hooks, calling ``loss.backward()`` skips four hook dispatches per step.
    """
    decided = _DECIDED.setdefault(trainer, {})
    key = (id(module), len(trainer.callbacks))
    if key not in decided:
        decided[key] = _backward_without_hooks(trainer, module)
    return decided[key]


def _backward_without_hooks(trainer: Any, module: Any) -> bool:
    import pytorch_lightning as pl
    from pytorch_lightning.plugins.precision import Precision
    from pytorch_lightning.strategies import SingleDeviceStrategy

    hooks = ("on_before_backward", "on_after_backward")
    return (
        type(trainer.strategy) is SingleDeviceStrategy
        and type(trainer.precision_plugin) is Precision
        and getattr(module, "_fabric", None) is None
        and type(module).backward is pl.LightningModule.backward
        and all(getattr(type(module), h) is getattr(pl.LightningModule, h) for h in hooks)
        and all(
            getattr(type(c), h) is getattr(pl.Callback, h) for c in trainer.callbacks for h in hooks
        )
    )
