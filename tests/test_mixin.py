"""The mixin's gradient step is exactly the hand-written PyTorch step."""

from __future__ import annotations

import copy

import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from bp_app.data.tensor_loader import TensorBatchLoader
from bp_app.models.mlp import MLPClassifier
from tests.conftest import quiet_trainer

ADAM = {"name": "adam", "lr": 1e-2, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0}


SGD = {"name": "sgd", "lr": 1.0}


def make_model(optimizer: dict = ADAM, **kwargs) -> MLPClassifier:
    torch.manual_seed(0)
    return MLPClassifier(
        input_shape=[1, 4, 4], num_classes=3, hidden_sizes=[8, 8], optimizer=optimizer, **kwargs
    )


def fixed_batches(n_batches: int, batch_size: int = 16):
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(n_batches * batch_size, 1, 4, 4, generator=generator)
    y = torch.randint(0, 3, (n_batches * batch_size,), generator=generator)
    return x, y


def hand_written_steps(model: torch.nn.Module, x, y, batch_size: int) -> None:
    """The plainest PyTorch loop: forward, loss, backward, step, zero_grad."""
    optimizer = torch.optim.Adam(model.parameters(), lr=ADAM["lr"], betas=(0.9, 0.999), eps=1e-8)
    for start in range(0, len(x), batch_size):
        loss = F.cross_entropy(model(x[start : start + batch_size]), y[start : start + batch_size])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()


def test_mixin_steps_equal_hand_written_steps():
    model = make_model()
    reference = copy.deepcopy(model)
    x, y = fixed_batches(n_batches=3)
    loader = TensorBatchLoader((x, y), batch_size=16, shuffle=False)

    trainer = quiet_trainer(max_epochs=1, limit_val_batches=0)
    trainer.fit(model, train_dataloaders=loader)
    hand_written_steps(reference, x, y, batch_size=16)

    assert trainer.global_step == 3  # one per optimizer step
    for (name, p), q in zip(model.named_parameters(), reference.parameters(), strict=True):
        assert torch.equal(p.detach(), q.detach()), name


def test_global_step_counts_optimizer_steps_across_epochs():
    model = make_model()
    x, y = fixed_batches(n_batches=4, batch_size=8)
    loader = TensorBatchLoader((x, y), batch_size=8, shuffle=True, seed=3)
    trainer = quiet_trainer(max_epochs=3, limit_val_batches=0)
    trainer.fit(model, train_dataloaders=loader)
    assert trainer.global_step == 12


def test_clipping_bounds_the_gradient_norm_the_optimizer_sees():
    clip = 1e-3
    model = make_model(optimizer=SGD, gradient_clip_val=clip)
    seen: list[float] = []

    class Spy(pl.Callback):
        # Callbacks' on_before_optimizer_step runs before the module's clip stage: record after.
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            seen.append(float(pl_module.last_grad_norm))

    before = [p.detach().clone() for p in model.parameters()]
    x, y = fixed_batches(n_batches=1)
    trainer = quiet_trainer(max_epochs=1, limit_val_batches=0, callbacks=[Spy()])
    trainer.fit(model, train_dataloaders=TensorBatchLoader((x, y), batch_size=16))

    assert seen and seen[0] > clip  # the raw gradient was larger than the bound
    step = torch.sqrt(
        sum(((p.detach() - b) ** 2).sum() for p, b in zip(model.parameters(), before, strict=True))
    )
    # SGD with lr 1: the update is the clipped gradient, whose norm is the bound.
    assert torch.isclose(step, torch.tensor(clip), rtol=1e-4)
