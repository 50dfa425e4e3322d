"""Speed measurements that ``bp-bench`` gathers: each module has ``run(quick) -> dict``."""
