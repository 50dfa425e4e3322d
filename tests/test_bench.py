"""bp-bench: the smoke-sized run writes a report of the documented shape (timings not asserted),
and the time-to-accuracy callback records the first epoch that reaches its threshold."""

from __future__ import annotations

import json
import subprocess
import sys

import torch

from bp_app.benchmarks.epochs import VARIANTS
from bp_app.benchmarks.optimizers import VARIANTS as OPTIMIZER_VARIANTS
from bp_app.benchmarks.report import TARGETS
from bp_app.benchmarks.startup import COMMANDS as STARTUP_COMMANDS
from bp_app.benchmarks.time_to_accuracy import StopAtAccuracy
from bp_app.benchmarks.whole_run import VARIANTS as WHOLE_RUN_VARIANTS
from tests.conftest import RandomImages, quiet_trainer, run_command


def positive(value: object) -> bool:
    return isinstance(value, (int, float)) and value > 0


def test_bp_bench_smoke_writes_the_report(tmp_path):
    out = tmp_path / "reports" / "bench.json"
    result = run_command("bp_app.bench", ["--smoke", "--out", str(out)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"report written to {out}" in result.stdout
    assert "Targets" in result.stdout and "1 torch thread" in result.stdout
    report = json.loads(out.read_text())

    assert report["mode"] == "smoke" and report["machine"]["torch_threads"] == 1
    assert set(report["epoch"]) == {"mlp", "cnn"}
    for entry in report["epoch"].values():
        assert set(entry["ms_per_step"]) == set(VARIANTS)
        assert all(positive(v) for v in entry["ms_per_step"].values())
        assert entry["steps_per_batch"] >= 1 and entry["log_every_n_steps"] >= 1
        for ratio in entry["ratios"].values():
            low, high = ratio["range"]
            assert positive(ratio["ratio"]) and 0 < low <= high
    optimizers = report["optimizers"]["results"]
    assert {"mlp/adam", "cnn/adam", "mlp/sgd"} <= set(optimizers)
    for r in optimizers.values():  # both forms, each against torch.optim's same form
        assert positive(r["ratio"]) and positive(r["per_tensor_ratio"])
        assert all(positive(r[f"{v}_ms"]) for v in OPTIMIZER_VARIANTS)
    assert all(positive(r["ratio"]) for r in report["backprop"]["results"].values())
    for model in ("mlp", "cnn"):
        run = report["time_to_accuracy"][model]
        assert positive(run["peak_rss_mb"]) and positive(run["process_seconds"])
        assert run["reached"] == (run["seconds"] is not None)
    whole = report["whole_run"]  # four real processes: the raw script, Lightning, bp-train twice
    assert set(whole["medians"]) == set(WHOLE_RUN_VARIANTS)
    for m in whole["medians"].values():
        assert positive(m["startup_s"]) and positive(m["fit_test_s"])
        assert m["process_s"] > m["startup_s"] + m["fit_test_s"] * 0.99
    assert positive(whole["ratios"]["bp_train/lightning"]) and positive(
        whole["ratios"]["bp_train/raw"]
    )
    assert whole["ratios"]["callbacks_cost"] > -1
    threads = report["threads"]
    for condition in ("quiet", "loaded"):
        row = threads[condition]
        assert row["threads"]["one"] == 1 and row["threads"]["auto"] >= 1
        assert all(positive(ms) for ms in row["ms_per_step"].values())
        assert positive(row["auto/best_other"])
    started = report["startup"]  # each command ran and ended as it should (checked inside)
    assert set(started["ratios"]) == set(STARTUP_COMMANDS)
    assert all(positive(s) for s in started["seconds"].values())
    assert "6. Whole run" in result.stdout and "8. Commands that do not train" in result.stdout
    assert "6. Whole run" in result.stdout and "7. trainer.threads" in result.stdout
    per_model = [f"hand-derived backward / autograd: {m}" for m in report["backprop"]["results"]]
    assert [t["name"] for t in report["targets"]] == [*TARGETS, *per_model]
    assert {"cnn_mnist_32c3_bn", "bag_of_embeddings", "sentiment_lstm", "forecaster_gru"} <= set(
        report["backprop"]["results"]
    )
    assert all(isinstance(t["met"], bool) and positive(t["value"]) for t in report["targets"])


def test_stop_at_accuracy_records_the_first_epoch_that_reaches_it(tmp_path):
    record = tmp_path / "reached.json"
    torch.manual_seed(0)
    from bp_app.models.mlp import MLPClassifier

    model = MLPClassifier(input_shape=[1, 2, 3], num_classes=4, optimizer={"name": "adam"})
    trainer = quiet_trainer(
        max_epochs=5, callbacks=[StopAtAccuracy(threshold=0.0, record=str(record))]
    )
    trainer.fit(model, datamodule=RandomImages(batch_size=8))
    reached = json.loads(record.read_text())
    assert reached["epoch"] == 0 and trainer.current_epoch == 1  # stopped after the first
    assert reached["global_step"] == 5 and reached["fit_seconds"] > 0


def test_the_raw_script_baseline_imports_no_lightning():
    """The whole-run baseline is plain PyTorch: were it to import Lightning (say, for the fit
    clock), its start-up would carry Lightning's and bp-train / raw would read too low."""
    probe = (
        "import sys, bp_app.benchmarks.raw_script; "
        "print(sorted(m for m in sys.modules if 'lightning' in m or m == 'torchmetrics'))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout
