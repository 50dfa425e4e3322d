"""Lightning's console logging, set up before Lightning is imported (checked against 2.6.6).

On import, ``pytorch_lightning`` and ``lightning_fabric`` set their loggers to INFO and, when the
root logger has no handler yet, give them their own stderr handler. bp-train and bp-eval import
Lightning only after Hydra has configured logging, which would route those lines through
Hydra's handlers (stdout and the job's log file) instead; this does at start what their import
did before, so Lightning's lines stay on stderr, as they always were.
"""

from __future__ import annotations

import logging

LIGHTNING_LOGGERS = ("pytorch_lightning", "lightning_fabric")


def lightning_logs_to_stderr() -> None:
    """What importing Lightning 2.6.6 does to its loggers, before anything configures logging."""
    if logging.getLogger().hasHandlers():
        return
    for name in LIGHTNING_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        logger.addHandler(logging.StreamHandler())
        logger.propagate = False
