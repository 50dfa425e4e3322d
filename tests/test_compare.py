"""bp-compare: curves from a sweep's event files, the PNG, errors; the comparison experiments."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from PIL import Image
from torch.utils.tensorboard import SummaryWriter

from bp_app.compare import compare, main
from bp_app.config.checks import check_train_config
from bp_app.train import train
from tests.conftest import FAST


def fake_run(sweep: Path, name: str, losses: list[float], descent: str, batches: int) -> None:
    """A run folder as bp-train -m writes it: .hydra/config.yaml and tensorboard/ events."""
    run = sweep / name
    (run / ".hydra").mkdir(parents=True)
    data = {"_target_": "bp_app.data.digits.DigitsDataModule", "batch_size": 128}
    config = {"descent": {"mode": descent}, "data": data}
    (run / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    writer = SummaryWriter(str(run / "tensorboard"))
    for epoch, loss in enumerate(losses):
        step = (epoch + 1) * batches
        writer.add_scalar("val/loss", loss, step)
        writer.add_scalar("epoch", epoch, step)
    writer.add_scalar("val/loss", losses[-1], 0)  # bp-train's final hparams record: step 0
    writer.close()


def test_optimizer_sweep_is_drawn_against_steps(tmp_path: Path, capsys):
    sweep = tmp_path / "multirun"
    fake_run(sweep, "0_optimizer=sgd", [2.0, 1.5, 1.2], "minibatch", batches=10)
    fake_run(sweep, "1_optimizer=adam", [1.8, 0.9, 0.5], "minibatch", batches=10)
    main([str(sweep)])
    out = capsys.readouterr().out
    assert "optimizer=sgd" in out and "optimizer=adam" in out
    png = sweep / "compare_val_loss.png"
    with Image.open(png) as image:
        assert image.format == "PNG" and image.width > 1000 and image.height > 400
    _, curves = compare(sweep, x_axis="auto", out=tmp_path / "again.png")
    assert [c.label for c in curves] == ["optimizer=sgd", "optimizer=adam"]
    assert curves[1].steps == [10, 20, 30]  # the step-0 hparams echo is dropped
    assert curves[1].values == pytest.approx([1.8, 0.9, 0.5])
    assert all(b >= a >= 0 for a, b in zip(curves[0].seconds, curves[0].seconds[1:], strict=False))


def test_descent_sweep_is_drawn_against_examples_seen(tmp_path: Path, monkeypatch):
    sweep = tmp_path / "multirun"
    fake_run(sweep, "0_descent=batch", [2.3, 2.2], "batch", batches=1)
    fake_run(sweep, "1_descent=stochastic", [0.5, 0.3], "stochastic", batches=1257)
    drawn = {}
    monkeypatch.setattr("bp_app.compare.plot_panels", lambda *args: drawn.update(args=args))
    compare(sweep)
    curves, progress, label = drawn["args"][:3]
    assert label == "training examples seen"
    assert progress == [[1257, 2514], [1257, 2514]]  # (epoch + 1) · N, N = 1,257 digits


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_a_folder_without_runs_is_a_clear_error(tmp_path: Path, capsys, make):
    sweep = tmp_path / "sweep"
    if make == "empty":
        sweep.mkdir()
    with pytest.raises(SystemExit) as exit_info:
        main([str(sweep)])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith("bp-compare: error: ")


def test_real_runs_compare(train_config, tmp_path: Path):
    """Runs written by bp-train itself, laid out as a sweep, read back and drawn."""
    sweep = tmp_path / "sweep"
    for number, name in enumerate(["sgd", "adam"]):
        run = sweep / f"{number}_optimizer={name}"
        options = [*FAST, "trainer.max_epochs=2", f"optimizer={name}", "test=false"]
        train(train_config([*options, f"paths.run_dir='{run}'"]))  # quoted: the name has '='
    out, curves = compare(sweep)
    assert out.is_file()
    assert [c.label for c in curves] == ["optimizer=sgd", "optimizer=adam"]
    # Lightning logs validation at the last batch's step before counting it: 9, 19 (as in
    # TensorBoard) for 10 batches per epoch.
    assert all(c.steps == [9, 19] and c.epochs == [0, 1] for c in curves)


@pytest.mark.parametrize(
    "experiment, group, options",
    [
        ("compare_optimizers", "optimizer", ["sgd", "momentum", "rmsprop", "adam"]),
        ("compare_descent", "descent", ["batch", "stochastic", "minibatch"]),
    ],
)
def test_comparison_experiments_sweep_the_lecture_options(train_config, experiment, group, options):
    cfg = train_config([f"experiment={experiment}"])
    assert str(cfg.hydra.mode) == "RunMode.MULTIRUN"
    assert cfg.hydra.sweeper.params[group].split(",") == options
    assert cfg.task_name == experiment
    for option in options:  # each run of the sweep passes the config check
        check_train_config(train_config([f"experiment={experiment}", f"{group}={option}"]))
