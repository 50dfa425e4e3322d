"""torch's intra-op threads for a run: ``trainer.threads`` = auto | torch | a number.

torch starts one thread per core. On a machine whose cores are busy with other processes those
threads wait on each other (each op's work is split and joined), and a small network's step can
take several times longer than on one thread. ``auto`` counts the cores that are idle right now
and uses that many (at least one); a user's OMP_NUM_THREADS wins over auto, as torch reads it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

STAT = Path("/proc/stat")


def available_cores() -> int:
    """The cores this process may run on (its affinity mask; all cores where there is none)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def busy_and_total() -> tuple[int, int]:
    """The CPU time counters of /proc/stat's summary line: (busy, total) in clock ticks."""
    fields = [int(v) for v in STAT.read_text().split("\n", 1)[0].split()[1:9]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def idle_cores(window: float = 0.05) -> float:
    """How many cores' worth of CPU went unused during the next ``window`` seconds."""
    if not STAT.exists():
        return float(available_cores())
    busy0, total0 = busy_and_total()
    time.sleep(window)  # this process sleeps: what it sees busy is the other processes' work
    busy1, total1 = busy_and_total()
    if total1 == total0:
        return float(available_cores())
    share_idle = 1 - (busy1 - busy0) / (total1 - total0)
    return share_idle * (os.cpu_count() or 1)


def auto_threads() -> int:
    """The idle cores this process may use, rounded, at least one."""
    return max(1, min(available_cores(), round(idle_cores())))


def choose_threads(setting: int | str) -> int | None:
    """The thread count for ``trainer.threads``; None keeps torch's own (``torch`` or
    OMP_NUM_THREADS set by the user under ``auto``)."""
    if setting == "torch" or (setting == "auto" and os.environ.get("OMP_NUM_THREADS")):
        return None
    if setting == "auto":
        return auto_threads()
    return int(setting)


def apply_threads(setting: int | str) -> int:
    """Set torch's intra-op threads as ``trainer.threads`` says; returns the count in use."""
    import torch

    threads = choose_threads(setting)
    if threads is not None:
        torch.set_num_threads(threads)
    return torch.get_num_threads()
