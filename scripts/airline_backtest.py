"""The h = 36 airline settings picked by a rule declared before any candidate ran: a backtest on
the series up to 1957-12, so the test months (1958-1960) are never read (docs/realdata.md).

    OMP_NUM_THREADS=1 python scripts/airline_backtest.py [--out outputs/airline_backtest]

The rule, fixed with the candidates below before the first run:
- data: the first 108 months of bp_app/data/airline_passengers.csv (1949-01 .. 1957-12),
  written as a CSV into the output folder and read with data=series_csv;
- origins: the ends of 1954, 1955 and 1956, each forecasting through 1957-12 (h = 36, 24 and 12
  months; data.horizon = data.test_size = h), the candidate's other overrides as they are;
- seeds 0, 1, 2 for every (candidate, origin);
- score: RMSSE = RMSE_h / s, where s is the RMSE of the one-step seasonal naive forecast over
  the months before the origin T,

      s = sqrt( (1/(T − m)) Σ_{t=m}^{T−1} (y_t − y_{t−m})² )      (m = 12),

  so origins at different levels weigh alike; a candidate's score is the mean RMSSE over its
  3 origins x 3 seeds;
- the pick: the lowest score; a tie goes to the earlier candidate in the list; a candidate with
  a run that could not be built or did not finish has no score and cannot be picked.

Each (candidate, origin) is one ``python -m bp_app.train -m ... seed=0,1,2`` sweep; a run whose
metrics.json exists is not run again, so a stopped backtest continues where it was.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import numpy as np

from bp_app.data.horizon_eval import horizon_metrics, origin_forecasts

BACKTEST_MONTHS = 108  # 1949-01 .. 1957-12: everything before the test months
LAST_MONTH = "1957-12"
SEASON = 12
# Origin (the last known month) -> h, the months forecast from it through 1957-12.
ORIGINS = {"1954-12": 36, "1955-12": 24, "1956-12": 12}
SEEDS = (0, 1, 2)

# The settings that were HORIZONS[36] before this backtest (less data.test_size): an MLP on the
# raw series' seasonal differences, 12 months at a time fed back.
INCUMBENT = [
    "data.output_steps=12",
    "data.scaling=standard",
    "data.lookback=30",
    "model.cell=mlp",
    "model.residual=false",
    "model.seasonal_lag=12",
]
# The experiment's own network: an LSTM on the log scale, predicting the change from x_T.
LSTM_LOG = [
    "data.output_steps=12",
    "data.scaling=log_standard",
    "data.lookback=12",
    "model.cell=lstm",
    "model.residual=true",
]


def varied(base: list[str], *changes: str) -> list[str]:
    """``base`` with each ``key=value`` of ``changes`` replacing the same key (or appended)."""
    keys = {change.split("=", 1)[0] for change in changes}
    kept = [o for o in base if o.split("=", 1)[0] not in keys]
    return kept + list(changes)


# (name, overrides), in the order ties are broken. Fixed before the first run.
CANDIDATES: list[tuple[str, list[str]]] = [
    ("incumbent", INCUMBENT),
    ("inc_log", varied(INCUMBENT, "data.scaling=log_standard")),
    ("inc_lookback24", varied(INCUMBENT, "data.lookback=24")),
    ("inc_lookback36", varied(INCUMBENT, "data.lookback=36")),
    ("inc_hidden16", varied(INCUMBENT, "model.hidden_size=16")),
    ("inc_hidden64", varied(INCUMBENT, "model.hidden_size=64")),
    ("inc_steps1", varied(INCUMBENT, "data.output_steps=1")),
    ("mlp_level", varied(INCUMBENT, "model.seasonal_lag=null")),
    ("mlp_residual", varied(INCUMBENT, "model.seasonal_lag=null", "model.residual=true")),
    ("lstm_seasonal", varied(INCUMBENT, "model.cell=lstm")),
    ("lstm_seasonal_log", varied(INCUMBENT, "model.cell=lstm", "data.scaling=log_standard")),
    ("lstm_log", LSTM_LOG),
    ("lstm_log_steps1", varied(LSTM_LOG, "data.output_steps=1")),
    # A direct head holds h targets per validation window: data.val_size follows data.horizon.
    (
        "lstm_log_direct",
        varied(LSTM_LOG, "data.output_steps=null", "data.val_size=${data.horizon}"),
    ),
    ("lstm_standard", varied(LSTM_LOG, "data.scaling=standard")),
    ("lstm_log_plain", varied(LSTM_LOG, "model.residual=false")),
    ("lstm_log_lookback24", varied(LSTM_LOG, "data.lookback=24")),
    ("mlp_log_residual", varied(LSTM_LOG, "model.cell=mlp")),
]


def write_backtest_series(out: Path) -> Path:
    """The shipped CSV's header and first BACKTEST_MONTHS rows, as out/airline_to_1957-12.csv."""
    shipped = resources.files("bp_app.data") / "airline_passengers.csv"
    rows = list(csv.reader(shipped.read_text(encoding="utf-8").splitlines()))
    header, body = rows[0], rows[1 : 1 + BACKTEST_MONTHS]
    if body[-1][0] != LAST_MONTH:
        raise ValueError(f"row {BACKTEST_MONTHS} of {shipped} is {body[-1][0]}, not {LAST_MONTH}")
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"airline_to_{LAST_MONTH}.csv"
    with path.open("w", newline="", encoding="utf-8") as file:
        csv.writer(file, lineterminator="\n").writerows([header, *body])
    return path


def origin_overrides(candidate: list[str], h: int, series: Path) -> list[str]:
    """One origin's bp-train overrides: the backtest series, forecast h months through its end,
    with the candidate's own overrides (its data.test_size dropped: the origin sets it)."""
    kept = [o for o in candidate if not o.startswith("data.test_size=")]
    return [
        "experiment=airline_forecast",
        "data=series_csv",
        f"data.path={series}",
        "data.value_column=passengers",
        "data.date_column=month",
        f"data.horizon={h}",
        f"data.test_size={h}",
        *kept,
        "data.stat_baselines=[]",  # AutoARIMA is fitted once per origin here, not once per run
    ]


def rmsse_scale(history: np.ndarray, season: int = SEASON) -> float:
    """s = sqrt(mean_{t=m}^{T−1} (y_t − y_{t−m})²): the one-step seasonal naive's in-sample RMSE."""
    history = np.asarray(history, np.float64)
    if len(history) <= season:
        raise ValueError(f"{len(history)} values before the origin: RMSSE needs more than {season}")
    return float(np.sqrt(np.mean((history[season:] - history[:-season]) ** 2)))


def pick(scores: list[float | None]) -> int:
    """The index of the lowest score (None: no score, never picked); a tie goes to the earlier."""
    eligible = [(score, i) for i, score in enumerate(scores) if score is not None]
    if not eligible:
        raise ValueError("no candidate has a score: every one had a run that failed")
    return min(eligible)[1]


def run_origin(overrides: list[str], folder: Path, seeds: tuple[int, ...] = SEEDS) -> str | None:
    """The seeds of one (candidate, origin) without metrics.json, as one sweep; None when every
    seed finished, else why not (bp-train's error line, or the sweep's last line)."""
    missing = [s for s in seeds if not (folder / f"seed{s}" / "metrics.json").exists()]
    if not missing:
        return None
    for seed in missing:  # a stopped run left a folder bp-train would refuse to continue
        shutil.rmtree(folder / f"seed{seed}", ignore_errors=True)
    command = [
        sys.executable,
        "-m",
        "bp_app.train",
        "-m",
        *overrides,
        f"seed={','.join(map(str, missing))}",
        "trainer.enable_progress_bar=false",
        f"hydra.sweep.dir={folder}",
        "hydra.sweep.subdir=seed${seed}",
    ]
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    with (folder / "sweep.log").open("w") as log:
        log.write("$ " + " ".join(command) + "\n")
        log.flush()
        subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
    if all((folder / f"seed{s}" / "metrics.json").exists() for s in seeds):
        return None
    lines = [line for line in (folder / "sweep.log").read_text().splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("bp-train: error:")]  # the reason
    return (errors or lines or ["the sweep printed nothing"])[-1]


def read_rmsse(folder: Path, scale: float) -> list[float]:
    """RMSE_h / s of each seed's run."""
    runs = [json.loads((folder / f"seed{s}" / "metrics.json").read_text()) for s in SEEDS]
    return [m["test/rmse_h"] / scale for m in runs]


def reference(values: np.ndarray) -> dict[str, dict[str, float]]:
    """RMSSE of AutoARIMA (statsforecast, season 12) and the seasonal naive at each origin."""
    rows: dict[str, dict[str, float]] = {"AutoARIMA": {}, "seasonal naive": {}}
    for month, h in ORIGINS.items():
        found = origin_forecasts(values, h, SEASON, ["AutoARIMA"])  # the last h months of 108
        scale = rmsse_scale(found.history)
        for row, key in (("AutoARIMA", "AutoARIMA"), ("seasonal naive", "seasonal_naive")):
            if key in found.baselines:
                rmse = horizon_metrics(found.baselines[key], found.actual)["rmse"]
                rows[row][month] = rmse / scale
    return rows


def fmt(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.3f}"


def candidate_rmsse(by_origin: dict[str, list[float]]) -> list[float] | None:
    """Every RMSSE of one candidate (origins x seeds); None unless every run finished."""
    if not all(len(by_origin.get(m, [])) == len(SEEDS) for m in ORIGINS):
        return None
    return [v for m in ORIGINS for v in by_origin[m]]


def scores(results: dict[str, dict[str, list[float]]]) -> list[float | None]:
    """Each candidate's score: its mean RMSSE over every origin and seed (None: a run missing)."""
    every = [candidate_rmsse(results.get(name, {})) for name, _ in CANDIDATES]
    return [statistics.mean(values) if values else None for values in every]


def table(results: dict[str, dict[str, list[float]]], refs: dict[str, dict[str, float]]) -> str:
    """One row per candidate: mean RMSSE over 3 origins x 3 seeds, sample sd, per-origin means;
    then the reference forecasts' RMSSE at the same origins."""
    origins = " | ".join(f"{m} (h={h})" for m, h in ORIGINS.items())
    lines = [
        f"| # | candidate | mean RMSSE | sd | {origins} |",
        "| --- " * (4 + len(ORIGINS)) + "|",
    ]
    for i, (name, _) in enumerate(CANDIDATES):
        by_origin = results.get(name, {})
        every = candidate_rmsse(by_origin)
        mean = statistics.mean(every) if every else None
        sd = statistics.stdev(every) if every else None
        per_origin = [
            fmt(statistics.mean(by_origin[m]) if by_origin.get(m) else None) for m in ORIGINS
        ]
        lines.append(f"| {i} | {name} | {fmt(mean)} | {fmt(sd)} | " + " | ".join(per_origin) + " |")
    for name, row in refs.items():
        values = [row.get(m) for m in ORIGINS]
        mean = statistics.mean(values) if None not in values else None
        cells = " | ".join(fmt(v) for v in values)
        lines.append(f"| ref | {name} | {fmt(mean)} | - | {cells} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("outputs/airline_backtest"))
    args = parser.parse_args()
    out = args.out.resolve()
    series = write_backtest_series(out)
    with series.open(newline="", encoding="utf-8") as file:
        values = np.array([float(row[1]) for row in list(csv.reader(file))[1:]])
    scale = {m: rmsse_scale(values[: BACKTEST_MONTHS - h]) for m, h in ORIGINS.items()}
    print(f"backtest series: {series} ({len(values)} months through {LAST_MONTH})")
    print("RMSSE scale s per origin: " + ", ".join(f"{m} {s:.2f}" for m, s in scale.items()))
    results: dict[str, dict[str, list[float]]] = {}
    failures: dict[str, str] = {}
    total, done, started = len(CANDIDATES) * len(ORIGINS), 0, time.monotonic()
    for name, candidate in CANDIDATES:
        results[name] = {}
        for month, h in ORIGINS.items():
            folder = out / name / f"origin_{month}"
            t0 = time.monotonic()
            failed = run_origin(origin_overrides(candidate, h, series), folder)
            done += 1
            if failed is None:
                results[name][month] = read_rmsse(folder, scale[month])
                note = "RMSSE " + " ".join(f"{v:.3f}" for v in results[name][month])
            else:
                failures[name] = f"{month}: {failed}"
                note = f"FAILED: {failed}"
            print(
                f"[{done}/{total}] {name} from {month} (h={h}): {note} "
                f"({time.monotonic() - t0:.0f} s, {time.monotonic() - started:.0f} s in all)",
                flush=True,
            )
    refs = reference(values)
    print(f"\nRMSSE over origins {', '.join(ORIGINS)} x seeds {SEEDS} (mean and sample sd):")
    print(table(results, refs))
    for name, why in failures.items():
        print(f"no score for {name}: {why}")
    chosen = pick(scores(results))
    print("\nCandidates:")
    for i, (name, candidate) in enumerate(CANDIDATES):
        print(f"{i} {name}: {' '.join(candidate)}")
    name, candidate = CANDIDATES[chosen]
    print(f"\nPicked (lowest mean RMSSE): {chosen} {name}: {' '.join(candidate)}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
