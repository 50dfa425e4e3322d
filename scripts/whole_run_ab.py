"""bp-bench's whole-run row for two checkouts at once, interleaved: before and after a change.

    python scripts/whole_run_ab.py --before /path/to/main --after . [--repeats 3]

The plain PyTorch script and the plain Lightning script run from ``--before`` (they do not depend
on bp_app's training code); ``bp-train`` with its defaults and with ``callbacks=none logger=none``
run from both checkouts (PYTHONPATH decides which bp_app a process imports). The configurations
take turns in a rotating order on the same generated MNIST-format files, 3 epochs, one thread;
the figures are medians, as in ``bp_app.benchmarks.whole_run``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

from bp_app.benchmarks.whole_run import run_once, write_mnist


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="checkout measured as 'before'")
    parser.add_argument("--after", required=True, help="checkout measured as 'after'")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    trees = {"before": str(Path(args.before).resolve()), "after": str(Path(args.after).resolve())}
    configs = [("before", "raw"), ("before", "lightning")]
    configs += [(tree, v) for tree in trees for v in ("bp_train", "bp_bare")]
    times: dict[tuple[str, str], list[dict[str, float]]] = {c: [] for c in configs}
    with tempfile.TemporaryDirectory() as tmp:
        write_mnist(Path(tmp), 60_000, 10_000)
        for repeat in range(args.repeats):
            shift = repeat % len(configs)
            for tree, variant in configs[shift:] + configs[:shift]:
                env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": trees[tree]}
                times[(tree, variant)].append(run_once(variant, Path(tmp), 3, env))
    median = {
        c: {key: statistics.median(t[key] for t in runs) for key in runs[0]}
        for c, runs in times.items()
    }
    for (tree, variant), m in median.items():
        print(
            f"{tree:<7} {variant:<10} process {m['process_s']:.2f} s, start-up "
            f"{m['startup_s']:.2f} s, fit+test {m['fit_test_s']:.2f} s"
        )
    lightning, raw = median[("before", "lightning")], median[("before", "raw")]
    for tree in trees:
        full, bare = median[(tree, "bp_train")], median[(tree, "bp_bare")]
        print(
            f"{tree}: bp-train / plain Lightning {full['process_s'] / lightning['process_s']:.2f}; "
            f"bp-train / raw script {full['process_s'] / raw['process_s']:.2f}; default callbacks "
            f"and logger {100 * (full['fit_test_s'] / bare['fit_test_s'] - 1):.0f} % of fit + test"
        )


if __name__ == "__main__":
    main()
