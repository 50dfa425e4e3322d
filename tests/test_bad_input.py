"""Bad input matrix: each mistake fails with a message that says what is wrong, where and how to
fix it, and destroys none of the run directory's earlier output.

Every in-process case runs ``train`` in a run directory that already holds an unfinished run
(checkpoints, TensorBoard events) and checks that the error is a BPAppError (bp-train prints it
as one ``bp-train: error:`` line and exits with status 2: see the command-line cases) and that
every earlier file is still there, byte for byte. The command-line cases cover what only the
command line shows: Hydra's own errors, exit statuses, and a refused run directory whose .hydra/
record must survive too.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bp_app.errors import BPAppError
from bp_app.predict import predict
from bp_app.train import train
from tests.bad_input_files import (
    HUGE,
    MNIST,
    REVIEWS,
    SHORT,
    UNLABELLED,
    WITH_NAN,
    WITH_TEXT,
    Case,
    assert_kept,
    csv_file,
    finish,
    mnist_with_label,
    random_bytes,
    snapshot,
    swapped_mnist,
    truncated_last,
    truncated_mnist,
    user_experiment,
)
from tests.conftest import FAST, REPO, compose_config, run_command
from tests.fake_mnist import write_fake_mnist

QUICK = [*FAST, "callbacks.gradient_flow=null", "callbacks.image_panels=null"]


# ---------------------------------------------------------------- the earlier run
@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("mnist")
    write_fake_mnist(root, n_train=300, n_test=100)
    return root


@pytest.fixture(scope="module")
def earlier_run(tmp_path_factory, mnist_root) -> Path:
    """An MLP run on (fake) MNIST that crashed in its second epoch: last.ckpt, the best
    checkpoint, TensorBoard events, no metrics.json. The MNIST cases resume it."""
    root = tmp_path_factory.mktemp("earlier")
    crash = ["+callbacks.crash._target_=tests.interrupt.CrashAt", "+callbacks.crash.epoch=1"]
    data = [f"data.root={mnist_root}", "data.val_size=50"]
    overrides = [*QUICK, *MNIST, *data, "trainer.max_epochs=2", *crash, "+callbacks.crash.batch=0"]
    with pytest.raises(RuntimeError, match="crash before epoch 1"):
        train(compose_config("train", overrides, root / "run"))
    assert (root / "run" / "checkpoints" / "last.ckpt").is_file()
    return root / "run"


# ---------------------------------------------------------------- in-process cases

CASES = {
    # ------------------------------------------------ config
    "misspelled key in a YAML file": Case(
        [], ("'model.dropuot'", "Did you mean 'dropout'"), user_experiment
    ),
    "wrong type": Case(["trainer.max_epochs=abc"], ("trainer.max_epochs='abc'", "expected int")),
    "learning rate 0": Case(["optimizer.lr=0"], ("optimizer.lr=0 is out of range", "(0, 1e+06]")),
    "negative learning rate": Case(["optimizer=sgd", "optimizer.lr=-0.1"], ("optimizer.lr=-0.1",)),
    "dropout 1": Case(["model.dropout=1.0"], ("model.dropout=1.0 is out of range", "[0, 1)")),
    "batch size 0": Case(["data.batch_size=0"], ("data.batch_size=0 is out of range", "[1, inf)")),
    "negative epochs": Case([*MNIST, "trainer.max_epochs=-5"], ("trainer:", "max_epochs", "-5")),
    "checkpoint that does not exist": Case(
        ["ckpt_path=/no/such/last.ckpt"], ("'/no/such/last.ckpt' does not exist", "ckpt_path=last")
    ),
    "checkpoint of another model": Case(
        ["model=cnn", *MNIST, "ckpt_path=last"],
        ("holds a MLPClassifier (model=mlp), but this run builds CNNClassifier (model=cnn)",),
    ),
    "checkpoint of another size": Case(
        ["model.hidden_sizes=[32]", *MNIST, "ckpt_path=last"],
        ("of another size", "hidden_sizes: checkpoint [128], this run [32]"),
    ),
    # issue 22: hostile but realistic input
    "negative seed": Case(["seed=-1"], ("seed=-1 is out of range", "[0, 4294967295]")),
    "negative layer size": Case(
        ["model.hidden_sizes=[-3]"], ("model.hidden_sizes=[-3] is out of range", "[1, inf)")
    ),
    "layer of zero units": Case(["model.hidden_sizes=[0]"], ("model.hidden_sizes=[0]",)),
    "a number for a list (found by the fuzzer)": Case(
        ["model.hidden_sizes=1e308"], ("model.hidden_sizes=1e+308 has the wrong type", "[128]")
    ),
    "empty list for a number (found by the fuzzer)": Case(
        ["regularization=l1", "regularization.l1=[]"],
        ("regularization.l1=[] has the wrong type: expected a number, not a list",),
    ),
    "learning rate past float32 (found by the fuzzer)": Case(
        ["optimizer=sgd", "optimizer.lr=1e308"],
        ("optimizer.lr=1e+308 is out of range", "(0, 1e+06]"),
    ),
    "null for a list (found by the fuzzer)": Case(
        ["model=cnn", "model.hidden_sizes=null"],
        ("model.hidden_sizes=null has the wrong type: it needs a value here",),
    ),
    "a list for an accelerator name (found by the fuzzer)": Case(
        ["trainer.accelerator=[]"],
        ("trainer.accelerator=[] has the wrong type: a list is not one",),
    ),
    "a float for the device count (found by the fuzzer)": Case(
        ["trainer.devices=-inf"],
        ("trainer.devices=-inf has the wrong type: expected a list, str or int",),
    ),
    "a list for the optimizer's name (found by the fuzzer)": Case(
        ["optimizer=rmsprop", "optimizer.name=[]"],
        ("optimizer.name=[] is not an optimizer bp_app knows", "optimizer=adam"),
    ),
    "model larger than memory": Case(
        ["model.hidden_sizes=[1000000000]"],
        ("75,000,000,010 parameters", "GB of memory available", "model.hidden_sizes="),
    ),
    "data removed": Case(["~data"], ("'data' is missing", "data=digits")),
    "model removed": Case(["~model"], ("'model' is missing", "model=mlp")),
    "seed removed": Case(["~seed"], ("'seed' is missing", "seed=42")),
    "added top-level key": Case(["+new_key=1"], ("Unknown top-level config key 'new_key'",)),
    "zero epochs": Case(["trainer.max_epochs=0"], ("trainer.max_epochs=0 trains nothing",)),
    "dict for a number": Case(
        ["optimizer.lr={a: 1}"], ("optimizer.lr={'a': 1} has the wrong type: expected a number",)
    ),
    "MNIST label out of range": Case(
        [],
        ("train-labels-idx1-ubyte holds label 200 at index 17", "0..9"),
        mnist_with_label,
    ),
    "swapped IDX files": Case(
        [],
        ("train-images-idx3-ubyte should hold images (IDX magic number 2051)", "2049", "swapped"),
        swapped_mnist,
    ),
    "series of random bytes": Case(
        [], ("sales.csv is not UTF-8 text",), random_bytes("sales.csv", "series_csv", "forecaster")
    ),
    "series too large to scale": Case(
        [],
        ("too large to scale", "reaches 3e+300"),
        csv_file("sales.csv", HUGE, "series_csv", "forecaster"),
    ),
    "truncated last.ckpt on resume": Case(
        [],
        ("last.ckpt is not a readable checkpoint: it is cut short", "ckpt_path=", "best-"),
        truncated_last,
    ),
    "checkpoint folder": Case(
        ["ckpt_path=/tmp"], ("ckpt_path='/tmp' is a folder, not a checkpoint file",)
    ),
    # ------------------------------------------------ data
    # The MNIST cases resume the earlier run and fail inside fit, while it loads the data.
    "missing data root": Case(
        [*MNIST, "data.root=/no/such/data"],
        ("/no/such/data/MNIST/raw", "data.root=", "data.download=true"),
    ),
    "truncated IDX file": Case(
        ["data.val_size=10"],
        ("train-images-idx3-ubyte is truncated", "60 x 28 x 28", "download them again"),
        truncated_mnist,
    ),
    "empty text": Case(
        [],
        ("reviews.csv, line 3: the 'text' column is empty", "give it a text or delete the row"),
        csv_file("reviews.csv", REVIEWS, "text_csv", "sentiment"),
    ),
    "empty text file": Case(
        [],
        ("empty.csv is empty", "header line"),
        csv_file("empty.csv", "", "text_csv", "sentiment"),
    ),
    "text CSV with a missing label": Case(
        [],
        ("line 3: the 'label' column is empty", "give the row a label"),
        csv_file("reviews.csv", UNLABELLED, "text_csv", "sentiment"),
    ),
    "series with NaN": Case(
        ["data.value_column=value"],
        ("sales.csv column 'value' has 1 missing value(s), at line(s) 4", "data.fill=interpolate"),
        csv_file("sales.csv", WITH_NAN, "series_csv", "forecaster"),
    ),
    "series with text": Case(
        [],
        ("sales.csv line 4, column 'value': 'lots' is not a number",),
        csv_file("sales.csv", WITH_TEXT, "series_csv", "forecaster"),
    ),
    "series too short for the window": Case(
        [],
        ("has 20 points, too few for data.lookback=12", "Use a longer series or lower"),
        csv_file("sales.csv", SHORT, "series_csv", "forecaster"),
    ),
    # ------------------------------------------------ environment
    "finished run in the run directory": Case(
        [],
        ("already holds a finished run (metrics.json)", "new run directory", "ckpt_path="),
        lambda tmp: finish(tmp / "outputs" / "mlp_digits" / "run"),
    ),
    "unfinished run and resume=never": Case(
        ["resume=never"], ("holds an unfinished run", "resume=auto or ckpt_path=last")
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_fails_clearly_and_keeps_earlier_output(name, earlier_run, tmp_path):
    case = CASES[name]
    run_dir = tmp_path / "outputs" / "mlp_digits" / "run"
    shutil.copytree(earlier_run, run_dir)
    extra = case.setup(tmp_path)
    before = snapshot(run_dir)
    overrides = [*QUICK, f"paths.output_dir={tmp_path / 'outputs'}", *case.overrides, *extra]
    with pytest.raises(BPAppError) as error:
        train(compose_config("train", overrides, run_dir))
    for part in case.expect:
        assert part in str(error.value), str(error.value)
    assert_kept(before, run_dir)


def test_unwritable_output_directory(tmp_path):
    # Root ignores permission bits (the tests run as root), but nobody can create a folder
    # inside a regular file.
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder\n")
    cfg = compose_config("train", [*QUICK], blocker / "run")
    with pytest.raises(BPAppError, match=r"a_file is a file, not a folder.*paths\.output_dir="):
        train(cfg)
    assert blocker.read_text() == "not a folder\n"


def test_corrupt_image_for_prediction(earlier_run, tmp_path, capsys):
    before = snapshot(earlier_run)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n this is not the rest of a PNG")
    checkpoint = earlier_run / "checkpoints" / "last.ckpt"
    cfg = compose_config("predict", [f"ckpt_path={checkpoint}", f"inputs=[{broken}]"], tmp_path)
    with pytest.raises(BPAppError, match=r"1 of 1 inputs could not be predicted: .*broken\.png"):
        predict(cfg)
    assert f"{broken}: error: not a readable PNG or JPEG image" in capsys.readouterr().err
    assert_kept(before, earlier_run)


# ---------------------------------------------------------------- on the command line
def bp_train(tmp_path: Path, *args: str):
    return run_command("bp_app.train", [f"hydra.run.dir={tmp_path / 'run'}", *args], REPO)


def test_cli_misspelled_key(tmp_path):
    result = bp_train(tmp_path, "trainer.max_epoch=3")
    assert result.returncode == 1  # Hydra's own composition error
    assert "Could not override 'trainer.max_epoch'" in result.stderr
    assert "not in struct" in result.stderr


def test_cli_missing_mnist_exits_2_without_a_traceback(tmp_path):
    result = bp_train(tmp_path, "data=mnist", f"data.root={tmp_path / 'nowhere'}")
    assert result.returncode == 2
    assert (
        f"bp-train: error: MNIST files not found in {tmp_path / 'nowhere' / 'MNIST' / 'raw'}"
        in (result.stderr)
    )
    assert "Traceback" not in result.stderr


def test_cli_never_overwrites_a_finished_run(earlier_run, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(earlier_run, run_dir)
    (run_dir / "metrics.json").write_text("{}\n")
    (run_dir / ".hydra").mkdir()
    (run_dir / ".hydra" / "config.yaml").write_text("# the earlier run's config\n")
    before = snapshot(run_dir)
    result = bp_train(tmp_path, *QUICK)
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"bp-train: error: the run directory {run_dir} already holds a finished run" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert_kept(before, run_dir)  # .hydra/config.yaml too: refused before Hydra wrote it
