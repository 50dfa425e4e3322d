"""bp-train -m hparams_search=...: a real Optuna search on digits, killed part-way and resumed by
the same command; every trial a run directory, pruned ones marked; best.yaml trains again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import optuna
import yaml
from optuna.trial import TrialState

from bp_app.compare import compare
from bp_app.runs.layout import STUDY_FILE
from bp_app.runs.sigterm import EXIT_SIGTERM
from tests.conftest import FAST
from tests.tensorboard_events import accumulators, hparams_rows
from tests.test_sigterm_resume import wait_for_file

# Three trials of three epochs; a median pruner stops a trial after its second epoch when it
# trails the finished trials there (with these seeds one of the two after trial 0 does).
# callbacks=none: only the search's own callback.
ARGS = [
    "hparams_search=mlp_digits",
    *(a for a in FAST if not a.startswith("trainer.max_epochs")),
    "trainer.max_epochs=3",
    "callbacks=none",
    "hydra.sweeper.n_trials=3",
    "~callbacks.trial_pruning.pruner",
    "+callbacks.trial_pruning.pruner={_target_:optuna.pruners.MedianPruner,"
    "n_startup_trials:1,n_warmup_steps:1}",
]


def search(sweep: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bp_app.train", "-m", *ARGS, f"hydra.sweep.dir={sweep}", *extra],
        cwd=sweep.parent,
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_search_resumes_after_a_kill_prunes_and_writes_best_yaml(tmp_path):
    sweep = tmp_path / "search"
    first = search(sweep)
    # Trial 1 is training (its event file exists): trial 0 has finished. Stop the search.
    wait_for_file("1/tensorboard/events.out.tfevents.*", sweep, first, timeout=240)
    trial0_metrics = (sweep / "0" / "metrics.json").stat().st_mtime_ns
    first.send_signal(signal.SIGTERM)
    log, _ = first.communicate(timeout=120)
    assert first.returncode == EXIT_SIGTERM, log[-3000:]

    second = search(sweep)  # the same command continues the study
    log, _ = second.communicate(timeout=300)
    assert second.returncode == 0, log[-3000:]
    assert "1 of 3 trials already finished" in log
    study = optuna.load_study(study_name="search", storage=f"sqlite:///{sweep / STUDY_FILE}")
    trials = study.get_trials()
    states = [t.state for t in trials]
    # Trial 1 was interrupted: failed, and its parameters asked again first (trial 2).
    assert states[1] == TrialState.FAIL and trials[2].params == trials[1].params
    assert trials[2].user_attrs["retry_of"] == 1
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert [t.number for t in finished] == [0, 2, 3], "n_trials counts finished trials"
    assert (sweep / "0" / "metrics.json").stat().st_mtime_ns == trial0_metrics, "not re-run"
    assert "Trial 0:" not in log

    # Every finished trial is a run directory whose metrics.json says whether it was pruned.
    for trial in finished:
        metrics = json.loads((sweep / str(trial.number) / "metrics.json").read_text())
        pruned = trial.state == TrialState.PRUNED
        assert metrics["trial/pruned"] == float(pruned)
        assert metrics["trial/number"] == trial.number
        assert metrics["trial/epochs"] == (2 if pruned else 3)
        assert metrics["trial/epochs"] == trial.user_attrs["epochs"]
    assert TrialState.PRUNED in states and TrialState.COMPLETE in states, states

    # The report: best value printed, best.yaml, the two pictures, the epoch count.
    best = study.best_trial
    assert f"best trial {best.number}: val/acc = {best.value:.6g}" in log
    trained = sum(t.user_attrs["epochs"] for t in finished)
    assert f"epochs trained {trained} of 9 without pruning (3 trials)" in log
    for picture in ("optimization_history.png", "param_importances.png"):
        assert (sweep / picture).read_bytes()[:4] == b"\x89PNG"
    config = yaml.safe_load((sweep / "best.yaml").read_text())
    assert config["defaults"][0] == "train" and config["defaults"][-1] == "_self_"
    assert config["optimizer"]["lr"] == best.params["optimizer.lr"]
    assert {"override optimizer": best.params["optimizer"]} in config["defaults"]

    # bp-train takes best.yaml back: the composed config has the best trial's values.
    shown = subprocess.run(
        [sys.executable, "-m", "bp_app.train", "-cd", str(sweep), "-cn", "best", "--cfg", "job"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    composed = yaml.safe_load(shown)
    assert composed["optimizer"]["name"] == best.params["optimizer"]
    assert composed["optimizer"]["lr"] == best.params["optimizer.lr"]
    assert str(composed["model"]["hidden_sizes"]).replace(" ", "") == best.params[
        "model.hidden_sizes"
    ].replace(" ", "")

    # HPARAMS: one row per finished trial under the sweep's logdir, none for the killed one,
    # and never Lightning's placeholder hp_metric.
    rows = hparams_rows(sweep)
    assert sorted(row[0].parent.name for row in rows) == ["0", "2", "3"]
    for _, hparams, metric_tags in rows:
        assert {"optimizer.lr", "optimizer.name", "data.batch_size"} <= set(hparams)
        assert {"val/acc", "test/acc", "trial/pruned"} <= set(metric_tags)
    for _, events in accumulators(sweep):
        assert "hp_metric" not in events.Tags()["scalars"]

    # bp-compare reads the search like any other sweep.
    out, curves = compare(sweep, "val/loss", "auto", None)
    assert out.is_file() and {c.run_dir.name for c in curves} >= {"0", "2", "3"}
