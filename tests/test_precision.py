"""Mixed precision: bf16-mixed trains on the CPU; under 16-mixed the mixin sees true gradients.

With 16-mixed, Lightning's MixedPrecision plugin multiplies the loss by the scaler's scale s
before backward, so the gradients in ``.grad`` are s·g until ``scaler.unscale_`` divides them
back, just before ``on_before_optimizer_step`` (where the mixin inspects and clips). A step whose
gradients hold inf or NaN is skipped (θ unchanged) and s shrinks by the backoff factor 1/2.
Lightning turns ``precision=16-mixed`` on the CPU into bf16-mixed, so these tests hand it the
fp16 plugin with torch's CPU GradScaler themselves.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
import yaml
from pytorch_lightning.plugins.precision import MixedPrecision

from bp_app.config import config_dir
from bp_app.data.tensor_loader import TensorBatchLoader
from bp_app.models.mlp import MLPClassifier
from bp_app.train import train
from tests.conftest import FAST, quiet_trainer

SCALE = 1024.0  # small enough that fp16 gradients of this tiny model never overflow by themselves
OPTIMIZERS = sorted((config_dir() / "optimizer").glob("*.yaml"))


def make_model(optimizer: dict, **kwargs) -> MLPClassifier:
    torch.manual_seed(0)
    return MLPClassifier(
        input_shape=[1, 4, 4], num_classes=3, hidden_sizes=[8], optimizer=optimizer, **kwargs
    )


def batches(n: int = 3, size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(n * size, 1, 4, 4, generator=generator)  # (N, C, H, W)
    return x, torch.randint(0, 3, (n * size,), generator=generator)


def fp16_trainer(callbacks: list[pl.Callback]) -> pl.Trainer:
    scaler = torch.amp.GradScaler("cpu", init_scale=SCALE)
    return quiet_trainer(
        plugins=[MixedPrecision("16-mixed", "cpu", scaler=scaler)],
        max_epochs=1,
        callbacks=callbacks,
    )


class StepRecord(pl.Callback):
    """After each step: the scaler's scale, the mixin's pre-clip norm and the parameters."""

    def __init__(self) -> None:
        self.scales: list[float] = []
        self.norms: list[float] = []
        self.params: list[list[torch.Tensor]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.scales.append(trainer.precision_plugin.scaler.get_scale())
        self.norms.append(float(getattr(pl_module, "last_grad_norm", math.nan)))
        self.params.append([p.detach().clone() for p in pl_module.parameters()])


def test_bf16_mixed_trains_on_cpu_through_train(train_config):
    dtypes: set[torch.dtype] = set()

    def record(module, inputs, output):
        if isinstance(module, torch.nn.Linear):
            dtypes.add(output.dtype)

    cfg = train_config(
        [
            *FAST,
            "logger=none",
            "trainer.precision=bf16-mixed",
            "+trainer.limit_train_batches=3",
            "+trainer.limit_val_batches=1",
            "+trainer.limit_test_batches=1",
        ]
    )
    handle = torch.nn.modules.module.register_module_forward_hook(record)
    try:
        metrics = train(cfg)
    finally:
        handle.remove()
    assert torch.bfloat16 in dtypes  # the layers ran under bf16 autocast
    assert all(math.isfinite(v) for v in metrics.values()) and "test/acc" in metrics


def test_16_mixed_mixin_norm_and_clip_see_unscaled_gradients():
    clip = 1e-3
    model = make_model({"name": "sgd", "lr": 1.0}, gradient_clip_val=clip)
    before = [p.detach().clone() for p in model.parameters()]
    x, y = batches(n=1)
    # The true gradient norm of the same first step, in float32 without a scaler.
    reference = make_model({"name": "sgd", "lr": 1.0})
    F.cross_entropy(reference(x), y).backward()
    true_norm = torch.linalg.vector_norm(
        torch.stack([torch.linalg.vector_norm(p.grad) for p in reference.parameters()])
    ).item()

    record = StepRecord()
    fp16_trainer([record]).fit(model, train_dataloaders=TensorBatchLoader((x, y), batch_size=16))

    # Scaled gradients would read SCALE (1024) times larger; fp16 rounding stays below 1%.
    assert record.norms[0] == pytest.approx(true_norm, rel=1e-2)
    assert record.norms[0] > clip
    step = torch.sqrt(
        sum(((p - b) ** 2).sum() for p, b in zip(record.params[0], before, strict=True))
    )
    # SGD with lr 1: the update is the clipped gradient; clipping scaled gradients would give
    # clip / SCALE once the scaler unscaled them.
    assert step.item() == pytest.approx(clip, rel=1e-3)


@pytest.mark.parametrize("path", OPTIMIZERS, ids=[p.stem for p in OPTIMIZERS])
def test_16_mixed_skips_a_nonfinite_step_and_shrinks_the_scale(path: Path):
    model = make_model(yaml.safe_load(path.read_text()))
    initial = [p.detach().clone() for p in model.parameters()]
    x, y = batches(n=3)
    x[16 + 3, 0, 1, 2] = float("inf")  # one input in the second batch: inf loss, inf/NaN grads
    record = StepRecord()
    fp16_trainer([record]).fit(model, train_dataloaders=TensorBatchLoader((x, y), batch_size=16))

    first, skipped, third = record.params
    assert any(not torch.equal(a, b) for a, b in zip(initial, first, strict=True))
    assert all(torch.equal(a, b) for a, b in zip(first, skipped, strict=True))  # θ unchanged
    assert any(not torch.equal(a, b) for a, b in zip(skipped, third, strict=True))
    assert record.scales == [SCALE, SCALE / 2, SCALE / 2]  # backoff 1/2 only on the bad step
    assert all(torch.isfinite(p).all() for p in third)
