"""compat.result_moves and the closure-free direct step: each keeps what Lightning's own path
gives (logged values, hook order, weights) and pins the private lines it relies on."""

from __future__ import annotations

import inspect

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import CSVLogger
from pytorch_lightning.trainer.connectors.logger_connector import result
from pytorch_lightning.trainer.connectors.logger_connector.result import (
    _Metadata,
    _ResultCollection,
    _ResultMetric,
)

from bp_app.compat.result_moves import moves_only_when_needed
from bp_app.models.mlp import MLPClassifier
from tests.conftest import RandomImages, quiet_trainer


def test_a_logged_tensor_already_on_the_device_is_not_moved_again(monkeypatch):
    assert moves_only_when_needed() and moves_only_when_needed()  # installed once, idempotent
    moved = []
    original = result.apply_to_collection

    def counting(*args, **kwargs):
        moved.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(result, "apply_to_collection", counting)
    metric = _ResultMetric(_Metadata(fx="training_step", name="loss"), is_tensor=True)
    assert metric.to(torch.device("cpu")) is metric and moved == []  # already there: skipped
    metric.to(device=torch.device("cpu"))  # any other form goes to Lightning's to
    metric.to(torch.float64)
    assert len(moved) == 2 and metric.value.dtype == torch.float64
    meta = torch.device("meta")
    assert metric.to(meta).value.device == meta and len(moved) == 3  # elsewhere: moved
    assert metric.cumulated_batch_size.device == meta


def test_the_skip_relies_on_lightnings_log_and_to_as_pinned():
    """_ResultCollection.log moves the key's state to the value's device on every call, and
    _ResultMetric.to rebuilds its __dict__: what the wrapper saves. An upgrade that changes
    either fails here."""
    assert "self[key].to(value.device)" in inspect.getsource(_ResultCollection.log)
    source = inspect.getsource(_ResultMetric.to.__wrapped__)
    assert "apply_to_collection(d, (Tensor, Metric), move_data_to_device" in source
    init = inspect.getsource(_ResultMetric.__init__)
    assert 'self.add_state("value"' in init and 'self.add_state("cumulated_batch_size"' in init


class StepOrder(pl.Callback):
    """Records the inspect hook's steps; the optimizer's pre-hook writes into the same list."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        self.events.append("inspect")

    def on_train_start(self, trainer, pl_module) -> None:
        if getattr(pl_module, "with_pre_hook", False):
            trainer.optimizers[0].register_step_pre_hook(lambda *a: self.events.append("pre"))


def fit(tmp_path, name: str, pre_hook: bool) -> tuple[MLPClassifier, StepOrder, str]:
    torch.manual_seed(0)
    model = MLPClassifier(
        input_shape=[1, 2, 3], num_classes=4, optimizer={"name": "adam", "lr": 0.01}
    )
    model.with_pre_hook = pre_hook
    order = StepOrder()
    logger = CSVLogger(tmp_path, name=name)
    trainer = quiet_trainer(
        max_steps=4, callbacks=[order], limit_val_batches=0, logger=logger, log_every_n_steps=1
    )
    trainer.fit(model, datamodule=RandomImages(batch_size=8))
    return model, order, (tmp_path / name / "version_0" / "metrics.csv").read_text()


def test_steps_with_and_without_a_pre_hook_keep_torchs_order_and_the_same_numbers(tmp_path):
    """No pre-hook: the mixin runs the closure's hooks, then step() without a closure. With one,
    the closure goes through step() so the pre-hook still runs first, as in torch."""
    plain, heard, logged = fit(tmp_path, "plain", pre_hook=False)
    hooked, heard_hooked, logged_hooked = fit(tmp_path, "hooked", pre_hook=True)
    assert heard.events == ["inspect"] * 4
    assert heard_hooked.events == ["pre", "inspect"] * 4
    for p, q in zip(plain.parameters(), hooked.parameters(), strict=True):
        assert torch.equal(p, q)
    assert logged == logged_hooked and "train/loss" in logged  # the logged scalars, the same
    source = inspect.getsource(torch.optim.Optimizer.profile_hook_step)
    assert source.index("_global_optimizer_pre_hooks.values()") < source.index("out = func(")


def test_the_direct_hook_call_repeats_lightnings_dispatch_as_pinned():
    """compat.step_hooks calls the module's hook itself under the hook's name, and Lightning's
    clip only under automatic optimization: what these Lightning lines do."""
    from pytorch_lightning.plugins.precision import Precision
    from pytorch_lightning.trainer import call

    dispatch = inspect.getsource(call._call_lightning_module_hook)
    for line in ("pl_module._current_fx_name = hook_name", "output = fn(*args, **kwargs)"):
        assert line in dispatch
    clip = inspect.getsource(Precision._clip_gradients)
    assert "not model.automatic_optimization" in clip and "return" in clip
