"""data.steps_per_batch: k optimizer steps per Lightning batch train exactly as one step per batch
(parameters, global_step, logged steps), resume exactly, and keep callbacks' figures."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import CSVLogger

from bp_app.callbacks.gradient_flow import GradientFlow
from bp_app.data.tensor_loader import StepGroup, TensorBatchLoader, batch_samples
from bp_app.models.mlp import MLPClassifier
from bp_app.train import train
from tests.conftest import FAST, RandomImages, quiet_trainer

ADAM = {"name": "adam", "lr": 1e-2}


def rows(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.arange(n).float().unsqueeze(1), torch.arange(n)


def mini_batches(loader: TensorBatchLoader) -> list[torch.Tensor]:
    """The targets of every mini-batch, groups unpacked."""
    out = []
    for batch in loader:
        out += [y for _, y in batch] if isinstance(batch, StepGroup) else [batch[1]]
    return out


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("rank", [0, 1])
def test_groups_hold_the_same_mini_batches_in_the_same_order(drop_last, rank):
    def loader(k: int) -> TensorBatchLoader:
        return TensorBatchLoader(
            rows(47), 4, shuffle=True, seed=3, drop_last=drop_last, rank=rank, world_size=2,
            steps_per_batch=k,
        )  # fmt: skip

    one, three = loader(1), loader(3)
    assert three.num_mini_batches == len(one) and len(three) == -(-len(one) // 3)
    expected = mini_batches(one)
    assert all(torch.equal(a, b) for a, b in zip(mini_batches(three), expected, strict=True))
    group = next(iter(three))
    assert len(group) == 3 and batch_samples(group) == 12


def test_state_counts_mini_batches_and_resumes_with_another_k():
    full = mini_batches(TensorBatchLoader(rows(30), 4, shuffle=True, seed=1))  # 8 mini-batches
    grouped = TensorBatchLoader(rows(30), 4, shuffle=True, seed=1, steps_per_batch=3)
    next(iter(grouped))
    assert grouped.state_dict() == {"epoch": 0, "batches_done": 3}
    grouped.rewind(1)  # training stopped (max_steps) before the group's last mini-batch
    resumed = TensorBatchLoader(rows(30), 4, shuffle=True, seed=1, steps_per_batch=2)
    resumed.load_state_dict(grouped.state_dict())
    rest = mini_batches(resumed)
    assert all(torch.equal(a, b) for a, b in zip(rest, full[2:], strict=True))


def fit(k: int, tmp: Path, model_options: dict | None = None, ckpt: str | None = None, **trainer):
    """Train the tiny MLP with k steps per batch; (model, trainer, logged rows)."""
    torch.manual_seed(0)
    options = {"optimizer": ADAM, **(model_options or {})}
    model = MLPClassifier(**RandomImages().model_inputs(), hidden_sizes=[5], **options)
    trainer_options = {"max_epochs": 3, "log_every_n_steps": 4, **trainer}
    trainer = quiet_trainer(
        logger=CSVLogger(tmp, name=f"k{k}"),
        **trainer_options,
    )
    data = RandomImages(batch_size=3, eval_batch_size=8, seed=5, steps_per_batch=k)
    trainer.fit(model, datamodule=data, ckpt_path=ckpt)
    with open(Path(trainer.logger.log_dir) / "metrics.csv") as file:
        logged = [(int(r["step"]), key) for r in csv.DictReader(file) for key in r if r[key]]
    return model, trainer, sorted(x for x in logged if x[1] in ("train/loss", "val/loss", "lr"))


def same_parameters(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


@pytest.mark.parametrize(
    "model_options, trainer_options",
    [
        ({"scheduler": {"name": "cosine", "interval": "step"}}, {}),  # T_max counts steps
        ({"optimizer": {"name": "sgd", "lr": 0.5}, "descent": {"mode": "batch"}}, {}),
        ({"backprop": "explicit", "gradient_clip_val": 0.1}, {}),
        ({}, {"precision": "bf16-mixed"}),
        ({}, {"max_steps": 23}),  # stops inside a group
    ],
    ids=["adam-cosine", "batch-descent", "explicit-clipped", "bf16-mixed", "max-steps"],
)
def test_k_steps_per_batch_train_exactly_like_one(model_options, trainer_options, tmp_path):
    one, trainer_1, logged_1 = fit(1, tmp_path, model_options, **trainer_options)
    four, trainer_4, logged_4 = fit(4, tmp_path, model_options, **trainer_options)
    assert trainer_4.num_training_batches == 4  # 14 mini-batches in groups of 4
    assert trainer_4.global_step == trainer_1.global_step > 0
    assert same_parameters(four, one)
    assert logged_4 == logged_1 and logged_1  # the same scalars at the same steps


class SaveAt(pl.Callback):
    """A mid-epoch checkpoint after the first batch that reaches ``step`` (as SIGTERM or
    ModelCheckpoint(every_n_train_steps) save one)."""

    def __init__(self, step: int, path: Path) -> None:
        self.step, self.path = step, path

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step >= self.step and not self.path.exists():
            trainer.save_checkpoint(self.path)


@pytest.mark.parametrize("stop", [19, None], ids=["max_steps-inside-a-group", "after-a-group"])
def test_a_mid_epoch_checkpoint_resumes_exactly(stop, tmp_path):
    checkpoint = tmp_path / "mid.ckpt"
    limit = {"max_steps": stop} if stop else {}
    fit(4, tmp_path, callbacks=[SaveAt(19, checkpoint)], **limit)
    state = torch.load(checkpoint, weights_only=True)["loops"]["fit_loop"]["state_dict"]
    # Epoch 1 (14 mini-batches) stopped at step 19, or at the end of its second group (22).
    assert state["combined_loader"][0]["batches_done"] == (stop or 22) - 14
    resumed, trainer, _ = fit(4, tmp_path, ckpt=str(checkpoint))
    uninterrupted, _, _ = fit(1, tmp_path)
    assert trainer.global_step == 3 * 14
    assert same_parameters(resumed, uninterrupted)


class Recorder(pl.loggers.Logger):
    """Keeps what callbacks write to loggers: {step: {name: value}}."""

    name, version = "recorder", 0

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[int, dict[str, float]] = {}

    def log_metrics(self, metrics, step=None):
        self.rows.setdefault(step, {}).update(metrics)

    def log_hyperparams(self, params, *args, **kwargs):
        pass


def test_gradient_flow_measures_the_logged_step_inside_a_group(tmp_path):
    def update_ratios(k: int) -> dict[int, dict[str, float]]:
        recorder = Recorder()
        torch.manual_seed(0)
        model = MLPClassifier(input_shape=[1, 2, 3], num_classes=4, optimizer=ADAM)
        trainer = quiet_trainer(
            max_epochs=1,
            logger=recorder,
            log_every_n_steps=100,
            callbacks=[GradientFlow(every_n_steps=3, histograms=False)],
        )
        trainer.fit(model, datamodule=RandomImages(batch_size=3, steps_per_batch=k))
        ratios = {
            step: {n: v for n, v in row.items() if n.startswith("update_ratio/")}
            for step, row in recorder.rows.items()
        }
        return {step: row for step, row in ratios.items() if row}

    grouped = update_ratios(4)
    assert grouped == update_ratios(1)
    assert sorted(grouped) == [0, 3, 6, 9, 12]  # steps 0-3 and 4-7 are groups of 4


def test_bp_train_with_steps_per_batch(train_config):
    cfg = train_config([*FAST, "test=false", "data.steps_per_batch=4"])
    metrics = train(cfg)
    assert 0 <= metrics["val/acc"] <= 1


def test_steps_per_batch_below_one_is_refused(train_config):
    from bp_app.errors import ConfigError

    with pytest.raises(ConfigError, match="data.steps_per_batch must be >= 1"):
        train(train_config([*FAST, "data.steps_per_batch=0"]))


def test_a_crash_inside_a_group_saves_its_start_and_resumes_exactly(tmp_path):
    from tests.interrupt import Interrupted
    from tests.test_exact_resume import MINIBATCH, assert_same_end, crash_at, last, run

    grouped = [*MINIBATCH, "data.steps_per_batch=4"]  # digits: groups of 4, 4, 2 an epoch
    reference = run(tmp_path, "reference", grouped)
    # Epoch 1, second group, inside its first step (after the backward, before the update).
    with pytest.raises(Interrupted):
        run(tmp_path, "crashed", [*grouped, *crash_at(epoch=1, batch=1, hook="before_update")])
    crashed = tmp_path / "mlp_digits" / "crashed"
    saved = last(crashed)
    assert saved["global_step"] == 10 + 4
    loader = saved["loops"]["fit_loop"]["state_dict"]["combined_loader"][0]
    assert loader == {"epoch": 1, "batches_done": 4}, "the group is redone from its start"
    run(tmp_path, "crashed", [*grouped, "ckpt_path=last"])
    assert_same_end(crashed, reference)
