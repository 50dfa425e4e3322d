"""The fit clock's record: when a benchmarked process started fitting and finished testing.

Imports nothing beyond the standard library, so that the raw-script baseline, which writes it
too, pays for no Lightning import it would not have on its own.
"""

from __future__ import annotations

import json
from pathlib import Path


def write_clock(record: str | Path, fit_started: float, finished: float) -> None:
    """Wall-clock times (time.time()) of fit's start and of the end of fit + test."""
    Path(record).write_text(json.dumps({"fit_started": fit_started, "finished": finished}))
