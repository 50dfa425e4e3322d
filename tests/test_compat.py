"""bp_app/compat holds every private Lightning / torch API bp_app uses: these tests fail when an
upgrade moves one, or when an installed version leaves the series it was checked against."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import pytest
import torch
from pytorch_lightning.strategies.launchers import _SubprocessScriptLauncher
from pytorch_lightning.utilities.exceptions import SIGTERMException
from torch.utils.tensorboard import SummaryWriter

from bp_app.compat import CHECKED_AGAINST
from bp_app.compat.lightning import (
    backward_without_hooks,
    batches_that_stepped,
    is_local_path,
    relaunches_command,
    request_stop_after_step,
    set_batches_that_stepped,
)
from bp_app.compat.torch_api import file_writer, foreach_norm
from tests.conftest import quiet_trainer


@pytest.mark.parametrize("package", sorted(CHECKED_AGAINST))
def test_installed_versions_are_the_series_compat_was_checked_against(package):
    series = CHECKED_AGAINST[package].split(".")[:2]
    found = importlib.import_module(package).__version__
    assert found.split("+")[0].split(".")[:2] == series, (
        f"{package} {found} is installed; bp_app/compat was checked against "
        f"{CHECKED_AGAINST[package]}: check each private use there, then update CHECKED_AGAINST"
    )


def test_lightning_batch_count_reads_and_writes_the_loop_counter():
    trainer = quiet_trainer(max_epochs=1)
    loop = trainer.fit_loop.epoch_loop
    assert batches_that_stepped(trainer) == loop._batches_that_stepped == 0
    set_batches_that_stepped(trainer, 7)
    assert loop._batches_that_stepped == 7 and batches_that_stepped(trainer) == 7


def test_local_paths_and_remote_ones_are_told_apart():
    assert is_local_path("/tmp/run/checkpoints/last.ckpt")
    assert is_local_path("relative/last.ckpt")
    assert not is_local_path("s3://bucket/last.ckpt")


def test_the_relaunching_ddp_launcher_is_recognised():
    trainer = quiet_trainer(max_epochs=1, devices=2, strategy="ddp")  # not started: no fit
    assert isinstance(trainer.strategy.launcher, _SubprocessScriptLauncher)
    assert relaunches_command(trainer.strategy.launcher)
    assert not relaunches_command(quiet_trainer(max_epochs=1).strategy.launcher)


def test_a_requested_stop_ends_fit_after_that_step_as_sigterm_does():
    """AgreedStop (runs/ddp_stop.py) stops every DDP rank through Lightning's private SIGTERM
    flag: the flag must still be the one ``trainer.received_sigterm`` reports, and the loop must
    still end the fit after the step that set it, with SIGTERMException."""
    import pytorch_lightning as pl

    from bp_app.models.mlp import MLPClassifier
    from tests.conftest import RandomImages

    class StopAfter(pl.Callback):
        def on_train_batch_end(self, trainer: pl.Trainer, *args: object) -> None:
            if trainer.global_step == 2:
                assert not trainer.received_sigterm
                request_stop_after_step(trainer)
                assert trainer._signal_connector.received_sigterm and trainer.received_sigterm

    model = MLPClassifier(input_shape=[1, 2, 3], num_classes=4, optimizer={"name": "adam"})
    trainer = quiet_trainer(max_steps=5, callbacks=[StopAfter()], limit_val_batches=0)
    with pytest.raises(SIGTERMException):
        trainer.fit(model, datamodule=RandomImages(batch_size=8))
    assert trainer.global_step == 2  # the step that asked finished; no other began


def test_summary_writer_file_writer_and_foreach_norm(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    try:
        assert hasattr(file_writer(writer), "add_summary")
    finally:
        writer.close()
    tensors = [torch.tensor([3.0, 4.0]), torch.tensor([[1.0, 2.0], [2.0, 4.0]])]
    assert [float(n) for n in foreach_norm(tensors)] == [5.0, 5.0]


def test_backward_skips_lightning_only_when_no_hook_listens():
    """The mixin calls loss.backward() itself only where manual_backward would add nothing: a
    callback with on_after_backward still gets each step, and the weights come out the same."""
    import pytorch_lightning as pl

    from bp_app.models.mlp import MLPClassifier
    from tests.conftest import RandomImages

    class Listener(pl.Callback):
        def __init__(self) -> None:
            self.steps: list[int] = []

        def on_after_backward(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
            self.steps.append(trainer.global_step)

    def fit(callbacks: list) -> tuple[MLPClassifier, bool]:
        torch.manual_seed(0)
        model = MLPClassifier(input_shape=[1, 2, 3], num_classes=4, optimizer={"name": "adam"})
        trainer = quiet_trainer(max_steps=3, callbacks=callbacks, limit_val_batches=0)
        trainer.fit(model, datamodule=RandomImages(batch_size=8))
        return model, backward_without_hooks(trainer, model)

    listener = Listener()
    (heard, heard_plain), (plain, plain_plain) = fit([listener]), fit([])
    assert listener.steps == [0, 1, 2] and heard_plain is False
    assert plain_plain is True
    for p, q in zip(heard.parameters(), plain.parameters(), strict=True):
        assert torch.equal(p, q)


@pytest.mark.parametrize("package", ["pytorch_lightning", "lightning_fabric"])
def test_lightning_still_sets_up_its_console_logger_as_bp_app_replays_it(package):
    """bp_app.compat.lightning_logs does, before Lightning is imported, what this import does."""
    source = Path(importlib.util.find_spec(package).origin).read_text()
    for line in (
        "_logger.setLevel(logging.INFO)",
        "if not _root_logger.hasHandlers():",
        "_logger.addHandler(logging.StreamHandler())",
        "_logger.propagate = False",
    ):
        assert line in source, f"{package}/__init__.py changed: check compat/lightning_logs.py"


def test_the_inspect_hook_reaches_its_listeners_only_and_the_same_weights_come_out():
    """compat.step_hooks: with the plain precision and no profiler, on_before_optimizer_step is
    called on the callbacks that define it (each step, gradients present, logging allowed) and
    nowhere else; a profiler keeps Lightning's own dispatch. Weights and clipping are the same."""
    import inspect

    import pytorch_lightning as pl
    from pytorch_lightning.plugins.precision import Precision

    from bp_app.models.mlp import MLPClassifier
    from tests.conftest import RandomImages

    class Inspector(pl.Callback):
        def __init__(self) -> None:
            self.seen: list[tuple[int, bool, str]] = []

        def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
            has_grads = all(p.grad is not None for p in pl_module.parameters())
            self.seen.append((trainer.global_step, has_grads, pl_module._current_fx_name))

    class Silent(pl.Callback):  # defines other hooks only: Lightning would still call it
        def on_train_batch_end(self, *args) -> None:
            pass

    def fit(profiler: str | None) -> tuple[MLPClassifier, Inspector, bool]:
        torch.manual_seed(0)
        model = MLPClassifier(
            input_shape=[1, 2, 3], num_classes=4, optimizer={"name": "adam"}, gradient_clip_val=0.01
        )
        inspector = Inspector()
        trainer = quiet_trainer(
            max_steps=3, callbacks=[Silent(), inspector], limit_val_batches=0, profiler=profiler
        )
        trainer.fit(model, datamodule=RandomImages(batch_size=8))
        return model, inspector, "_after_closure" in vars(trainer.precision_plugin)

    (narrow, heard, installed), (wide, heard_wide, installed_wide) = fit(None), fit("simple")
    assert installed and not installed_wide
    assert (
        heard.seen == heard_wide.seen == [(s, True, "on_before_optimizer_step") for s in range(3)]
    )
    for p, q in zip(narrow.parameters(), wide.parameters(), strict=True):
        assert torch.equal(p, q)
    assert narrow.last_grad_norm is not None  # the mixin's clip, its module hook, ran
    # What the replacement repeats of Lightning's method: an upgrade that changes it fails here.
    source = inspect.getsource(Precision._after_closure)
    for line in (
        'call._call_callback_hooks(trainer, "on_before_optimizer_step", optimizer)',
        'call._call_lightning_module_hook(trainer, "on_before_optimizer_step", optimizer)',
        "self._clip_gradients(",
    ):
        assert line in source
