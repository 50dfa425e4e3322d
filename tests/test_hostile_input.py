"""Hostile but realistic use (issue 22): each reproducer ends in one clear error or a right result.

The checkpoints come from two tiny real runs (an MLP on fake MNIST, a forecaster on the sine
series); the data files are written here in their real formats.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from bp_app.data.series_csv import read_series_csv
from bp_app.data.text_csv import read_labelled_csv
from bp_app.errors import BPAppError, ConfigError, DataError, StorageError
from bp_app.evaluate import evaluate
from bp_app.models.memory import check_model_memory
from bp_app.models.mlp import MLPClassifier
from bp_app.predict import predict
from bp_app.predictors.windows import MAX_STEPS, forecast_in_blocks
from bp_app.runs import checkpoint_io
from bp_app.runs.checkpoints import load_checkpoint, load_model
from bp_app.runs.crash_checkpoint import rerun_advice
from bp_app.runs.metrics import check_finite
from bp_app.train import train
from tests.conftest import FAST, compose_config
from tests.fake_mnist import write_fake_mnist

TINY = [
    *FAST,
    "callbacks.gradient_flow=null",
    "callbacks.image_panels=null",
    "+trainer.limit_train_batches=2",
    "+trainer.limit_val_batches=1",
    "+trainer.limit_test_batches=1",
]


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("mnist")
    write_fake_mnist(root, n_train=200, n_test=50)
    return root


@pytest.fixture(scope="module")
def mnist_mlp(tmp_path_factory, mnist_root) -> Path:
    """last.ckpt of an MLP trained two steps on (fake) 28x28 MNIST."""
    run = tmp_path_factory.mktemp("mnist_mlp") / "run"
    data = ["data=mnist", f"data.root={mnist_root}", "data.val_size=50", "data.batch_size=32"]
    train(compose_config("train", [*TINY, *data], run))
    return run / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="module")
def forecaster(tmp_path_factory) -> Path:
    """last.ckpt of a forecaster trained two steps on the sine series."""
    run = tmp_path_factory.mktemp("forecaster") / "run"
    train(compose_config("train", [*TINY, "experiment=sine_forecast"], run))
    return run / "checkpoints" / "last.ckpt"


# ---------------------------------------------------------------- data files
def test_a_one_megabyte_review_is_read_like_a_short_one(tmp_path):
    path = tmp_path / "reviews.csv"
    long_review = "good " * 220_000  # 1.1 MB in one field: past csv's 131,072-character limit
    path.write_text(f"text,label\n{long_review},pos\nbad film,neg\n")
    texts, labels = read_labelled_csv(path, "text", "label", ",")
    assert [len(t) for t in texts] == [len(long_review.strip()), 8] and labels == ["pos", "neg"]


def test_a_series_of_random_bytes_names_the_file(tmp_path):
    path = tmp_path / "sales.csv"
    path.write_bytes(bytes(range(128, 256)) * 20)
    with pytest.raises(BPAppError, match=r"sales\.csv is not UTF-8 text \(line 1"):
        read_series_csv(path, "value")


def test_series_too_large_to_scale_fails_before_training(tmp_path):
    path = tmp_path / "huge.csv"
    rows = "".join(f"19{49 + i // 12}-{i % 12 + 1:02d},{1e300 * (1 + i % 3)}\n" for i in range(80))
    path.write_text("month,value\n" + rows)
    overrides = [*TINY, "model=forecaster", "data=series_csv", f"data.path={path}"]
    with pytest.raises(BPAppError, match=r"too large to scale: .*reaches 3e\+300.*power of ten"):
        train(compose_config("train", overrides, tmp_path / "run"))


# ---------------------------------------------------------------- checkpoints
def test_a_folder_for_a_checkpoint_names_the_file_inside(mnist_mlp):
    run = mnist_mlp.parents[1]
    with pytest.raises(
        ConfigError, match=r"is a folder, not a checkpoint file.*ckpt_path=.*\.ckpt"
    ):
        load_checkpoint(run)


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", r"it is empty \(0 bytes\)"),
        # Fixed seeds: torch's legacy unpickler fails on random bytes with UnpicklingError (seed
        # 0), IndexError (2), KeyError (20) or UnicodeDecodeError (195); each is not a checkpoint.
        *[
            (random.Random(seed).randbytes(4096), r"not a PyTorch checkpoint of weights")
            for seed in (0, 2, 20, 195)
        ],
        ("half", r"it is cut short or damaged"),
    ],
    ids=["empty", *[f"random bytes {seed}" for seed in (0, 2, 20, 195)], "truncated"],
)
def test_an_unreadable_checkpoint_says_why_and_names_another(mnist_mlp, tmp_path, content, reason):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    good = mnist_mlp.read_bytes()
    (folder / "best-epoch=0.ckpt").write_bytes(good)
    broken = folder / "last.ckpt"
    broken.write_bytes(good[: len(good) // 2] if content == "half" else content)
    with pytest.raises(ConfigError) as error:
        load_checkpoint(broken)
    message = str(error.value)
    assert f"{broken} is not a readable checkpoint" in message
    assert re.search(reason, message), message
    assert f"ckpt_path={folder / 'best-epoch=0.ckpt'}" in message
    assert "weights_only" not in message  # torch's advice to unpickle anything is never repeated


# ---------------------------------------------------------------- bp-eval and bp-predict
def test_eval_of_an_mnist_model_on_digits_names_the_sizes(mnist_mlp, tmp_path):
    cfg = compose_config("eval", [f"ckpt_path={mnist_mlp}", "data=digits"], tmp_path)
    with pytest.raises(
        ConfigError, match=r"input_shape: checkpoint \[1, 28, 28\], data \[1, 8, 8\]"
    ):
        evaluate(cfg)


def test_eval_of_a_forecaster_on_images_names_the_data_that_fit(forecaster, tmp_path):
    cfg = compose_config("eval", [f"ckpt_path={forecaster}", "data=digits"], tmp_path)
    with pytest.raises(ConfigError, match=r"takes windows, but .* gives images.*data=sine"):
        evaluate(cfg)


def test_predict_refuses_images_for_a_forecaster(forecaster, tmp_path, capsys):
    image = tmp_path / "a.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n")
    cfg = compose_config("predict", [f"ckpt_path={forecaster}", f"inputs=[{image}]"], tmp_path)
    with pytest.raises(ConfigError, match=r"inputs=.*a\.png.* model takes windows.*steps="):
        predict(cfg)
    assert "Forecast of" not in capsys.readouterr().out  # nothing printed as if it had worked


def test_predict_caps_the_forecast_length(forecaster, tmp_path):
    cfg = compose_config("predict", [f"ckpt_path={forecaster}", "steps=100000000"], tmp_path)
    with pytest.raises(ConfigError, match=f"positive whole number, at most {MAX_STEPS:,}"):
        predict(cfg)


def test_a_long_forecast_shows_progress_and_equals_one_call(forecaster, capsys):
    checkpoint = load_checkpoint(forecaster)
    model = load_model(forecaster, checkpoint)
    lookback, horizon = model.hparams["lookback"], model.hparams["horizon"]
    window = torch.linspace(-1, 1, lookback, dtype=torch.float64)
    steps = 1_050
    blocks = forecast_in_blocks(model, window, steps, horizon)
    with torch.no_grad():
        whole = model.forecast(window, steps).double().numpy()
    np.testing.assert_array_equal(blocks, whole)
    assert "forecast: 1,050 of 1,050 steps" in capsys.readouterr().err


# ---------------------------------------------------------------- model sizes
def test_a_model_too_large_for_memory_says_how_much_it_needs():
    def build() -> MLPClassifier:
        return MLPClassifier(
            input_shape=[1, 8, 8],
            num_classes=10,
            hidden_sizes=[1_000_000_000],
            optimizer={"name": "adam", "lr": 1e-3},
            scheduler={"name": "none"},
            regularization={"name": "none"},
            descent={"mode": "minibatch"},
        )

    rng = torch.get_rng_state()
    with pytest.raises(ConfigError, match=r"75,000,000,010 parameters: 300\.0 GB of weights"):
        check_model_memory(build, available=16 * 10**9)
    assert torch.equal(rng, torch.get_rng_state()), "counting draws no random numbers"


# ---------------------------------------------------------------- training
def test_a_one_cycle_shorter_than_the_run_fails_before_training(tmp_path):
    overrides = [*FAST, "scheduler=onecycle", "scheduler.total_steps=3", "logger=none"]
    with pytest.raises(ConfigError, match=r"total_steps=3 is shorter than the run, which makes 10"):
        train(compose_config("train", overrides, tmp_path / "run"))
    assert not list((tmp_path / "run").glob("checkpoints/*.ckpt")), "no step was trained"


def test_resuming_with_fewer_epochs_than_done_names_the_fix(tmp_path):
    crash = ["+callbacks.crash._target_=tests.interrupt.CrashAt", "+callbacks.crash.epoch=2"]
    crash.append("+callbacks.crash.batch=0")
    run = tmp_path / "run"
    with pytest.raises(RuntimeError, match="crash before epoch 2"):
        train(compose_config("train", [*TINY, "trainer.max_epochs=3", *crash], run))
    overrides = [*TINY, "trainer.max_epochs=1"]  # resume=auto continues this directory
    with pytest.raises(ConfigError, match=r"completed 2 epochs, more than trainer.max_epochs=1"):
        train(compose_config("train", overrides, run))


def test_non_finite_final_metrics_are_an_error_and_mark_nothing_finished(tmp_path):
    with pytest.raises(DataError, match=r"non-finite metrics \(test/rmse = nan\)"):
        check_finite({"val/loss": 0.1, "test/rmse": float("nan")}, tmp_path)
    check_finite({"val/loss": 0.1}, tmp_path)  # finite: no error


def test_a_full_disk_names_the_last_good_checkpoint(tmp_path, monkeypatch):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    (folder / "last.ckpt").write_bytes(b"the good one")

    def full(*args, **kwargs):  # what torch's zip writer raises on ENOSPC
        raise RuntimeError("PytorchStreamWriter failed writing file data/0: file write failed")

    monkeypatch.setattr(checkpoint_io.torch, "save", full)
    with pytest.raises(StorageError) as error:
        checkpoint_io.AtomicCheckpointIO().save_checkpoint({"w": 1}, folder / "last.ckpt")
    assert f"no space left on {folder}" in str(error.value)
    assert f"last good checkpoint: {folder / 'last.ckpt'}" in str(error.value)
    assert (folder / "last.ckpt").read_bytes() == b"the good one"
    assert [p.name for p in folder.iterdir()] == ["last.ckpt"], "no temporary file left"


def test_crash_advice_to_start_again_only_when_it_can_succeed():
    assert "Start the same command again" in rerun_advice(OSError("connection reset"))
    advice = rerun_advice(IndexError("Target 200 is out of bounds"))
    assert "comes back if the run is started again" in advice and "fix its cause" in advice
