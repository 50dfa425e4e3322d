"""A fuzzer that keeps hostile input harmless (issue 22).

Hypothesis draws overrides from every config group's keys (each option's YAML file under conf/)
with values of the wrong type, out of range, empty, huge, negative, NaN and inf, and runs bp-train
in its cheapest form on digits. The property: it trains and every final metric is finite, or it
stops with a BPAppError, which bp-train prints as exactly one ``bp-train: error:`` line with exit
status 2 (checked on real processes for a few drawn examples). bp-eval and bp-predict get the
same treatment with wrong checkpoints and inputs.

The seed is fixed (derandomize) and the examples bounded, so CI runs the same cases each time;
an example that once failed is kept below as an @example, and in tests/test_bad_input.py.
"""

from __future__ import annotations

import itertools
import math
import random
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bp_app.config import config_dir
from bp_app.errors import BPAppError
from bp_app.evaluate import evaluate
from bp_app.predict import predict
from bp_app.train import train
from tests.conftest import REPO, compose_config, run_command

GROUPS = ("data", "model", "optimizer", "regularization", "descent", "scheduler", "trainer")
# The cheapest run; the fuzzer never draws these keys (a drawn 10^12 epochs would run for days).
CHEAPEST = [
    "trainer.max_epochs=1",
    "+trainer.limit_train_batches=2",
    "+trainer.limit_val_batches=1",
    "+trainer.limit_test_batches=1",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "trainer.accelerator=cpu",
    "logger=none",
    "callbacks.gradient_flow=null",
    "callbacks.image_panels=null",
]
RUN_LENGTH = {"max_epochs", "max_steps", "min_epochs", "min_steps", "max_time"}
# Keys whose values are paths or Hydra plumbing: a drawn value there tests the file system.
NOT_DRAWN = RUN_LENGTH | {"_target_", "default_root_dir", "root", "path", "dirpath"}
# Hydra's override grammar for each kind of hostile value.
HOSTILE = [
    "abc",  # wrong type
    "'{a: 1}'",  # a dict for a number
    "[1,[2]]",  # a nested list
    "''",  # empty
    "[]",  # empty list
    "null",
    "-1",  # negative
    "-0.5",
    "0",
    "1000000000000",  # huge
    "1e308",
    "nan",
    "inf",
    "-inf",
    "true",
]
SETTINGS = dict(
    derandomize=True,  # a fixed seed: the same examples in every run
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def group_keys() -> list[tuple[str, str, str]]:
    """(group, option, key) for every key of every option's YAML file."""
    found = []
    for group in GROUPS:
        for path in sorted((config_dir() / group).glob("*.yaml")):
            node = yaml.safe_load(path.read_text()) or {}
            for key in node:
                if key not in NOT_DRAWN and not key.startswith("limit_"):
                    found.append((group, path.stem, key))
    return found


KEYS = group_keys()


@st.composite
def hostile_overrides(draw) -> list[str]:
    """One to three (group option, key=hostile value) overrides."""
    picks = draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=3, unique=True))
    overrides: list[str] = []
    for group, option, key in picks:
        if group != "trainer" and f"{group}={option}" not in overrides:
            overrides.append(f"{group}={option}")
        overrides.append(f"{group}.{key}={draw(st.sampled_from(HOSTILE))}")
    return overrides


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    """One folder for every drawn example's run directory (each its own mkdtemp inside)."""
    return tmp_path_factory.mktemp("fuzz_runs")


def check_train(overrides: list[str], scratch: Path) -> None:
    """The property, in-process: finite metrics, or a BPAppError (one line, exit 2)."""
    run_dir = Path(tempfile.mkdtemp(dir=scratch)) / "run"
    try:
        cfg = compose_config("train", [*CHEAPEST, *overrides], run_dir)
    except Exception as error:  # noqa: BLE001 - Hydra's own grammar errors (exit 1, no trace)
        assert type(error).__module__.startswith(("hydra", "omegaconf")), repr(error)
        return
    try:
        metrics = train(cfg)
    except BPAppError:
        return
    assert all(math.isfinite(v) for v in metrics.values()), (overrides, metrics)


@settings(max_examples=30, **SETTINGS)
@given(overrides=hostile_overrides())
@example(overrides=["trainer.precision=abc"])
@example(overrides=["model=mlp", "model.hidden_sizes=1e308"])
@example(overrides=["optimizer=sgd", "optimizer.lr=inf"])
@example(overrides=["data=digits", "data.val_fraction=nan"])
@example(overrides=["regularization=l1", "regularization.l1=[]"])  # found: a list for a number
@example(overrides=["optimizer=adamw", "optimizer.lr=1e308"])  # found: past float32
@example(overrides=["model=cnn", "model.pool_size=null", "model.hidden_sizes=null"])  # found
@example(overrides=["trainer.accelerator=[]"])  # found: a list for a name
@example(overrides=["trainer.devices=-inf"])  # found: a float for int | str | list
@example(overrides=["optimizer=rmsprop", "optimizer.name=[]"])  # found: a list as a dict key
def test_bp_train_in_process(scratch, overrides):
    check_train(overrides, scratch)


def test_bp_train_on_the_command_line(tmp_path):
    """A drawn example and a fixed one on real processes: exit 0 with a finite metrics.json, or
    exit 2 with exactly one ``bp-train: error:`` line and no traceback."""
    rng = random.Random(22)  # fixed: the same drawn case in every run
    cases = []
    for group, option, key in rng.sample(KEYS, 1):
        choice = [] if group == "trainer" else [f"{group}={option}"]
        cases.append([*choice, f"{group}.{key}={rng.choice(HOSTILE)}"])
    cases.append(["model=cnn", "model.channels=[-3]"])
    for i, overrides in enumerate(cases):
        run_dir = tmp_path / f"run{i}"
        result = run_command(
            "bp_app.train", [*CHEAPEST, *overrides, f"hydra.run.dir={run_dir}"], REPO
        )
        assert "Traceback" not in result.stderr, (overrides, result.stderr[-3000:])
        if result.returncode == 0:
            metrics = yaml.safe_load((run_dir / "metrics.json").read_text())
            assert all(math.isfinite(v) for v in metrics.values()), (overrides, metrics)
            continue
        errors = [
            line for line in result.stderr.splitlines() if line.startswith("bp-train: error:")
        ]
        assert result.returncode == 2 and len(errors) == 1, (overrides, result.stderr[-3000:])


# ---------------------------------------------------------------- bp-eval and bp-predict
@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Checkpoints (two real, several wrong) and inputs (right and wrong kinds)."""
    root = tmp_path_factory.mktemp("fuzz_files")
    train(compose_config("train", CHEAPEST, root / "mlp"))
    train(compose_config("train", [*CHEAPEST, "experiment=sine_forecast"], root / "forecaster"))
    mlp = root / "mlp" / "checkpoints" / "last.ckpt"
    good = mlp.read_bytes()
    made = {
        "mlp": mlp,
        "forecaster": root / "forecaster" / "checkpoints" / "last.ckpt",
        "folder": root / "mlp",
        "missing": root / "no_such.ckpt",
        "empty": root / "empty.ckpt",
        "truncated": root / "truncated.ckpt",
        "random": root / "random.ckpt",
        "text": root / "notes.txt",
        "png": root / "digit.png",
        "bad_png": root / "bad.png",
    }
    made["empty"].write_bytes(b"")
    made["truncated"].write_bytes(good[: len(good) // 3])
    made["random"].write_bytes(random.Random(22).randbytes(2048))  # fixed: a deterministic fuzzer
    made["text"].write_text("not bad at all\n")
    made["bad_png"].write_bytes(b"\x89PNG\r\n\x1a\n broken")
    from PIL import Image

    Image.new("L", (8, 8), 128).save(made["png"])
    return made


CHECKPOINTS = ["mlp", "forecaster", "folder", "missing", "empty", "truncated", "random", "text"]
INPUTS = ["png", "bad_png", "text", "folder", "missing"]
PREDICT_VALUES = ["steps=0", "steps=-3", "steps=1000000000000", "steps=abc", "steps=3"]
PREDICT_VALUES += ['text=""', "text=good", "text=null"]
EVAL_DATA = ["data=digits", "data=sine", "data=mnist", "data=text_csv"]


@settings(max_examples=25, **SETTINGS)
@given(
    command=st.sampled_from(["eval", "predict"]),
    checkpoint=st.sampled_from(CHECKPOINTS),
    inputs=st.lists(st.sampled_from(INPUTS), max_size=2),
    extra=st.sampled_from([*PREDICT_VALUES, *EVAL_DATA, None]),
)
def test_bp_eval_and_bp_predict_with_wrong_checkpoints_and_inputs(
    files, scratch, command, checkpoint, inputs, extra
):
    overrides = [f"ckpt_path={files[checkpoint]}"]
    if command == "predict" and inputs:
        overrides.append(f"inputs=[{','.join(str(files[i]) for i in inputs)}]")
    if extra and (command == "predict") == (not extra.startswith("data=")):
        overrides.append(extra)
    out = Path(tempfile.mkdtemp(dir=scratch))
    try:
        cfg = compose_config(command, [*overrides, *QUIET_EVAL[command]], out)
    except Exception as error:  # noqa: BLE001 - Hydra's own grammar errors
        assert type(error).__module__.startswith(("hydra", "omegaconf")), repr(error)
        return
    try:
        result = (evaluate if command == "eval" else predict)(cfg)
    except BPAppError:
        return
    if command == "eval":
        assert all(math.isfinite(v) for v in result.values()), result


QUIET_EVAL = {
    "eval": [
        "trainer.enable_progress_bar=false",
        "trainer.enable_model_summary=false",
        "trainer.accelerator=cpu",
        "+trainer.limit_test_batches=1",
    ],
    "predict": [],
}


def test_the_fuzzer_draws_from_every_group():
    assert {group for group, _, _ in KEYS} == set(GROUPS)
    assert len(list(itertools.islice(KEYS, 1000))) > 60
