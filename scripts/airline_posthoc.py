"""After the fact, not a selection: every candidate of scripts/airline_backtest.py on the h = 36
test months (1958-1960), 5 seeds each, to tell whether the gap to AutoARIMA lies in the rule or
in the candidates (docs/realdata.md, "After the backtest").

    OMP_NUM_THREADS=1 python scripts/airline_posthoc.py [--jobs 2] [--out outputs/airline_posthoc]

The settings of HORIZONS[36] stay what the backtest picked, whatever this prints: choosing them
again from these figures would be choosing on the test months. Each candidate is one
``python -m bp_app.train -m experiment=airline_forecast data.horizon=36 data.test_size=36 ...``
sweep over the seeds; a finished seed (its metrics.json) is not run again.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling script below
from airline_backtest import CANDIDATES, run_origin  # noqa: E402

H = 36
SEEDS = (0, 1, 2, 3, 4)
PICKED = "mlp_log_residual"  # what the backtest picked (HORIZONS[36] of airline_horizons.py)


def test_overrides(candidate: list[str], anchors: bool) -> list[str]:
    """A candidate forecasting the last 36 months of the shipped series from 1957-12; the
    statistical anchors are fitted in the first candidate's runs only (they do not change)."""
    kept = [o for o in candidate if not o.startswith("data.test_size=")]
    overrides = ["experiment=airline_forecast", f"data.horizon={H}", f"data.test_size={H}", *kept]
    return overrides if anchors else [*overrides, "data.stat_baselines=[]"]


def read_runs(folder: Path, seeds: tuple[int, ...] = SEEDS) -> list[dict[str, float]]:
    return [json.loads((folder / f"seed{s}" / "metrics.json").read_text()) for s in seeds]


def summary(errors: list[float]) -> str:
    """mean ± sample sd (min-max)."""
    spread = statistics.stdev(errors) if len(errors) > 1 else 0.0
    return f"{statistics.mean(errors):.1f} ± {spread:.1f} ({min(errors):.1f}-{max(errors):.1f})"


def table(errors: dict[str, list[float] | None], target: float) -> str:
    """One row per candidate, in the backtest's order; the picked one marked."""
    lines = [
        f"| # | candidate | test RMSE, h = {H}, mean ± sd (min-max) | mean < {target:.1f} |",
        "| --- | --- | --- | --- |",
    ]
    for i, (name, _) in enumerate(CANDIDATES):
        label = f"{name} (picked)" if name == PICKED else name
        found = errors.get(name)
        if found is None:
            lines.append(f"| {i} | {label} | no figure: a run failed | - |")
            continue
        below = "yes" if statistics.mean(found) < target else "no"
        lines.append(f"| {i} | {label} | {summary(found)} | {below} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("outputs/airline_posthoc"))
    parser.add_argument("--jobs", type=int, default=1, help="candidates run at once")
    args = parser.parse_args()
    out = args.out.resolve()
    started = time.monotonic()
    failures: dict[str, str] = {}

    def run(index: int, name: str, candidate: list[str]) -> str | None:
        return run_origin(test_overrides(candidate, anchors=index == 0), out / name, SEEDS)

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        jobs = {pool.submit(run, i, n, c): n for i, (n, c) in enumerate(CANDIDATES)}
        for done, job in enumerate(as_completed(jobs), start=1):
            name, failed = jobs[job], job.result()
            if failed is not None:
                failures[name] = failed
            note = "done" if failed is None else f"FAILED: {failed}"
            elapsed = time.monotonic() - started
            print(f"[{done}/{len(jobs)}] {name}: {note} ({elapsed:.0f} s)", flush=True)

    errors = {
        name: None if name in failures else [m["test/rmse_h"] for m in read_runs(out / name)]
        for name, _ in CANDIDATES
    }
    anchor_runs = read_runs(out / CANDIDATES[0][0]) if CANDIDATES[0][0] not in failures else []
    if not anchor_runs:
        raise SystemExit(f"no AutoARIMA figure: {failures[CANDIDATES[0][0]]}")
    target = anchor_runs[0]["test/rmse_h_autoarima"]
    print(f"\nRMSE of 1958-1960 forecast from 1957-12, seeds {SEEDS}; AutoARIMA {target:.1f}:")
    print(table(errors, target))
    means = {n: statistics.mean(e) for n, e in errors.items() if e is not None}
    best = min(means, key=means.get)
    below = sum(mean < target for mean in means.values())
    print(f"\n{below} of {len(means)} candidates below AutoARIMA; lowest: {best} {means[best]:.1f}")
    for name, why in failures.items():
        print(f"no figure for {name}: {why}")


if __name__ == "__main__":
    main()
