"""bp_app/compat holds every private Lightning / torch API bp_app uses: these tests fail when an
upgrade moves one, or when an installed version leaves the series it was checked against."""

from __future__ import annotations

import importlib

import pytest
import torch
from pytorch_lightning.strategies.launchers import _SubprocessScriptLauncher
from torch.utils.tensorboard import SummaryWriter

from bp_app.compat import CHECKED_AGAINST
from bp_app.compat.lightning import (
    batches_that_stepped,
    is_local_path,
    relaunches_command,
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


def test_summary_writer_file_writer_and_foreach_norm(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    try:
        assert hasattr(file_writer(writer), "add_summary")
    finally:
        writer.close()
    tensors = [torch.tensor([3.0, 4.0]), torch.tensor([[1.0, 2.0], [2.0, 4.0]])]
    assert [float(n) for n in foreach_norm(tensors)] == [5.0, 5.0]
