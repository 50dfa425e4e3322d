"""bp-train works from a plain `pip install .` (a wheel) in another directory."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import REPO, run_command


def test_wheel_ships_the_configs_and_trains_outside_the_checkout(tmp_path: Path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "dist"), str(REPO)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    wheel = next((tmp_path / "dist").glob("bp_app-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"bp_app/conf/train.yaml", "bp_app/conf/data/digits.yaml"} <= names
    # Hydra finds the search's sweeper in its namespace package, which has no __init__.py.
    assert "hydra_plugins/bp_optuna_sweeper/sweeper.py" in names
    assert "hydra_plugins/__init__.py" not in names
    assert "bp_app/conf/hparams_search/mlp_digits.yaml" in names
    assert "bp_app/data/airline_passengers.csv" in names

    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
         str(wheel)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    env = {"PYTHONPATH": str(site)}
    info = run_command("bp_app.train", ["--info", "all"], workdir, env)
    assert f"file://{site / 'bp_app' / 'conf'}" in info.stdout, info.stdout + info.stderr
    assert "BPOptunaSweeper" in info.stdout  # Hydra found the sweeper the wheel ships

    run = workdir / "run"
    result = run_command(
        "bp_app.train",
        [f"hydra.run.dir={run}", "trainer.max_epochs=1", "trainer.enable_progress_bar=false"],
        workdir,
        env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "test/acc" in json.loads((run / "metrics.json").read_text())
