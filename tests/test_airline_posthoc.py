"""scripts/airline_posthoc.py, the after-the-fact look at every backtest candidate on the test
months: each candidate forecasts 1958-1960 from 1957-12, the anchors are fitted once, the table
marks the pick and compares each mean with the anchor. No training run."""

from __future__ import annotations

import json

import pytest

from bp_app.config.build import build_datamodule
from tests.scripts import load_script

posthoc = load_script("airline_posthoc")


@pytest.mark.parametrize("index", [0, 13, 17])  # incumbent, direct head, the pick
def test_a_candidate_forecasts_the_36_test_months_from_1957_12(train_config, index):
    name, candidate = posthoc.CANDIDATES[index]
    cfg = train_config(posthoc.test_overrides(candidate, anchors=False))
    assert cfg.data.horizon == cfg.data.test_size == 36
    assert list(cfg.data.stat_baselines) == []
    data = build_datamodule(cfg)
    data.loaded()
    origin = data.origin
    assert str(data.series.dates[origin.origin - 1]) == "1957-12", name
    assert origin.horizon == 36 and origin.origin + 36 == len(data.series.values) == 144


def test_only_the_first_candidate_fits_the_anchors(train_config):
    cfg = train_config(posthoc.test_overrides(posthoc.CANDIDATES[0][1], anchors=True))
    assert list(cfg.data.stat_baselines) == ["AutoARIMA", "AutoETS", "AutoTheta"]


def test_the_marked_pick_is_the_shipped_h36_setting():
    horizons = load_script("airline_horizons")
    shipped = [o for o in horizons.HORIZONS[36] if o != "data.test_size=36"]
    assert sorted(dict(posthoc.CANDIDATES)[posthoc.PICKED]) == sorted(shipped)


def test_table_marks_the_pick_compares_each_mean_with_the_anchor_and_names_failures():
    names = [name for name, _ in posthoc.CANDIDATES]
    errors = {name: [30.0, 34.0] for name in names}
    errors[names[1]] = [10.0, 20.0, 30.0]
    errors[names[2]] = None  # a run failed
    lines = posthoc.table(errors, target=22.1).splitlines()
    assert lines[0] == "| # | candidate | test RMSE, h = 36, mean ± sd (min-max) | mean < 22.1 |"
    assert lines[2] == "| 0 | incumbent | 32.0 ± 2.8 (30.0-34.0) | no |"
    assert lines[3] == f"| 1 | {names[1]} | 20.0 ± 10.0 (10.0-30.0) | yes |"
    assert lines[4] == f"| 2 | {names[2]} | no figure: a run failed | - |"
    picked = names.index(posthoc.PICKED)
    assert lines[2 + picked].startswith(f"| {picked} | {posthoc.PICKED} (picked) | 32.0")


def test_read_runs_reads_each_seed_in_order(tmp_path):
    for seed in posthoc.SEEDS:
        (tmp_path / f"seed{seed}").mkdir()
        metrics = {"test/rmse_h": float(seed)}
        (tmp_path / f"seed{seed}" / "metrics.json").write_text(json.dumps(metrics))
    assert [m["test/rmse_h"] for m in posthoc.read_runs(tmp_path)] == [0.0, 1.0, 2.0, 3.0, 4.0]
