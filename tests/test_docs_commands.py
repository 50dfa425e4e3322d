"""Every command README.md and docs/ show still works, run in its short form.

Each documented bp-train command is composed and checked as bp-train would, then trained for at
most two batches of one epoch (in-process, as ``bp-train`` calls ``train``); commands that need
what this machine lacks (a GPU, DDP processes, SLURM, a download, the user's own files) are
composed and checked only. bp-eval and bp-predict run on checkpoints of short runs, bp-compare
on a run's event files, bp-bench's arguments are parsed. A documented command that no longer
composes, checks or runs fails here.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf
from PIL import Image

from bp_app import bench, compare
from bp_app.config import config_dir
from bp_app.config.checks import check_train_config
from bp_app.errors import BPAppError
from bp_app.evaluate import evaluate
from bp_app.predict import predict
from bp_app.train import train
from tests.conftest import compose_config
from tests.doc_commands import DocCommand, documented_commands, placeholder
from tests.fake_mnist import write_fake_mnist

COMMANDS = documented_commands()
MNIST_TRAIN = 400
SHORT = [
    "trainer.max_epochs=1",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "trainer.accelerator=cpu",
    "++trainer.limit_train_batches=2",
    "++trainer.limit_test_batches=1",
]
# Needs what this machine lacks, or files only the user has: composed and checked, not run.
CHECK_ONLY = re.compile(
    r"trainer=(gpu|ddp)|16-mixed|ddp_spawn|hydra/launcher|data=text_csv|sentiment_imdb|"
    r"ckpt_path=last|--help"
)


def by_program(program: str) -> list[DocCommand]:
    return [c for c in COMMANDS if c.program == program]


def ids(commands: list[DocCommand]) -> list[str]:
    return [f"{c.where} {c.text}"[:90] for c in commands]


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("docs_data")
    raw = write_fake_mnist(root, n_train=MNIST_TRAIN, n_test=100)
    shutil.copytree(raw, root / "FashionMNIST" / "raw")  # data=fashion_mnist reads the same IDX
    return root


def first_sweep_job(args: list[str]) -> list[str]:
    """``-m``: the first job of the sweep (the first value of every swept key)."""
    register = [a for a in args if a != "-m"]
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        cfg = compose("train", overrides=[a for a in register if "," not in a or "[" in a])
    swept = OmegaConf.select(cfg, "hydra.sweeper.params") or {}
    picks = [f"{key}={str(values).split(',')[0]}" for key, values in swept.items()]
    given = [a.split(",")[0] if "," in a and "[" not in a else a for a in register]
    return [*given, *picks]


def train_overrides(command: DocCommand, mnist_root: Path) -> list[str]:
    """The command's overrides, with the reader's placeholders filled and hydra's paths left to
    the test."""
    args = first_sweep_job(list(command.args)) if "-m" in command.args else list(command.args)
    args = [a for a in args if not a.startswith(("hydra.run.dir=", "hydra.sweep.dir="))]
    return [a.replace("data.download=true", "data.download=false") for a in args]


TRAINED: set[str] = set()  # configs already run: the docs repeat some commands


def run_fingerprint(cfg) -> str:
    """The composed run minus where it writes: two commands that differ only there are one."""
    plain = OmegaConf.to_container(cfg, resolve=False)
    for key in ("hydra", "paths"):
        plain.pop(key, None)
    return OmegaConf.to_yaml(OmegaConf.create(plain))


TRAIN_COMMANDS = by_program("bp-train") + by_program("python -m bp_app.train")


@pytest.mark.parametrize("command", TRAIN_COMMANDS, ids=ids(TRAIN_COMMANDS))
def test_documented_bp_train_command(command: DocCommand, mnist_root, checkpoints, tmp_path):
    if command.args == ("--help",):
        return  # Hydra's own flag: nothing of bp_app's to compose
    if "-cd" in command.args:  # a finished search's best.yaml: its own test trains from one
        pytest.skip("needs a search's best.yaml; tests/test_search.py runs -cd <sweep> -cn best")
    overrides = fill_checkpoint(train_overrides(command, mnist_root), checkpoints)
    cfg = compose_config("train", overrides, tmp_path / "run")
    if "MNIST" in cfg.data._target_:  # the small (Fashion-)MNIST written above, real format
        overrides = [a for a in overrides if not a.startswith("data.root=")]
        overrides.append(f"data.root={mnist_root}")
        if cfg.data.val_size >= MNIST_TRAIN:
            overrides.append("data.val_size=100")
        cfg = compose_config("train", overrides, tmp_path / "run")
    check_train_config(cfg)
    if CHECK_ONLY.search(command.text) or any(placeholder(a) for a in overrides):
        return  # e.g. data=coco data.root=/path/to/folder: the reader's own files
    cfg = compose_config("train", [*overrides, *SHORT], tmp_path / "run")
    if run_fingerprint(cfg) in TRAINED:
        return
    TRAINED.add(run_fingerprint(cfg))
    metrics = train(cfg)
    assert metrics and all(np.isfinite(v) for v in metrics.values())


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory, mnist_root) -> dict[str, Path]:
    """last.ckpt of a short run of each kind the docs predict with."""
    made = {}
    for name, overrides in {
        "images": [],
        "text": ["experiment=sentiment_negation"],
        "series": ["experiment=airline_forecast"],
        "boxes": ["experiment=detect_digits"],
    }.items():
        run = tmp_path_factory.mktemp(f"docs_{name}") / "run"
        train(compose_config("train", [*overrides, *SHORT], run))
        made[name] = run / "checkpoints" / "last.ckpt"
    return made


def fill_checkpoint(args, checkpoints: dict[str, Path]) -> list[str]:
    """ckpt_path=<a run's checkpoint> -> a checkpoint of a short run of the same kind."""
    kind = "text" if any(a.startswith("text=") for a in args) else "images"
    kind = "series" if any(a.startswith("steps=") for a in args) else kind
    kind = "boxes" if any(a.startswith("out_dir=") for a in args) else kind
    filled = f"ckpt_path={checkpoints[kind]}"
    return [filled if a.startswith("ckpt_path=") and placeholder(a) else a for a in args]


@pytest.mark.parametrize("command", by_program("bp-eval"), ids=ids(by_program("bp-eval")))
def test_documented_bp_eval_command(command, checkpoints, tmp_path):
    cfg = compose_config("eval", fill_checkpoint(command.args, checkpoints), tmp_path / "eval")
    cfg.trainer.accelerator = "cpu"
    assert 0 <= evaluate(cfg)["test/acc"] <= 1


@pytest.mark.parametrize("command", by_program("bp-predict"), ids=ids(by_program("bp-predict")))
def test_documented_bp_predict_command(command, checkpoints, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the inputs a reader would have beside them
    digit = (np.random.default_rng(0).random((8, 8)) * 255).astype(np.uint8)
    for name in ("a.png", "b.png", "scan_4.png", "digit_7.png", "my_digits/one.png"):
        Path(name).parent.mkdir(exist_ok=True)
        Image.fromarray(digit).save(name)
    Path("broken.png").write_bytes(b"not a png")
    cfg = compose_config("predict", fill_checkpoint(command.args, checkpoints), tmp_path / "p")
    if "broken.png" in command.text:  # the docs' example of a file that is not an image
        with pytest.raises(BPAppError, match="1 of 3 inputs could not be predicted: broken.png"):
            predict(cfg)
    else:
        assert predict(cfg)  # one prediction per input


@pytest.mark.parametrize("command", by_program("bp-compare"), ids=ids(by_program("bp-compare")))
def test_documented_bp_compare_command(command, checkpoints, capsys):
    sweep = checkpoints["images"].parents[2]  # a folder holding a run, as a sweep does
    compare.main([str(sweep) if placeholder(a) else a for a in command.args])
    assert "bp-compare: wrote" in capsys.readouterr().out


@pytest.mark.parametrize("command", by_program("bp-bench"), ids=ids(by_program("bp-bench")))
def test_documented_bp_bench_arguments(command, monkeypatch):
    """bp-bench takes minutes: check that its documented arguments reach the measurement."""

    class Reached(Exception):
        pass

    def measure(mode, *settings):  # device, threads, and whatever bp-bench adds
        raise Reached(mode)

    monkeypatch.setattr(bench, "run", measure)
    with pytest.raises(Reached):
        bench.main(list(command.args))


def test_the_docs_show_commands_of_every_program():
    """The reader above finds the commands: a broken fence or prefix would make this vacuous."""
    programs = {c.program for c in COMMANDS}
    assert {"bp-train", "bp-eval", "bp-predict", "bp-compare", "bp-bench"} <= programs
    assert len(by_program("bp-train")) >= 30
