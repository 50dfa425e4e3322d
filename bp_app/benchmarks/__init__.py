"""Speed measurements that bp-bench runs: each module has ``run(quick: bool) -> dict``."""
