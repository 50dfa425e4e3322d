"""Errors that name the problem and the fix, and the one path by which every command prints them."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

USER_ERROR_EXIT = 2  # as argparse and Hydra exit on a usage error


class BPAppError(Exception):
    """A problem the user can fix: the message says what is wrong, where, and how to fix it."""


class ConfigError(BPAppError):
    """A configuration value or key that bp_app cannot use."""


class DataError(BPAppError):
    """A data set that is missing, corrupt or unusable."""


class StorageError(BPAppError):
    """A disk that cannot take the run's files (full, over quota)."""


@contextmanager
def user_errors(command: str, log: logging.Logger | None = None) -> Iterator[None]:
    """Inside this block a BPAppError ends the command with one line ``<command>: error: ...``
    on stderr and exit status 2 (also written to ``log``, so the run's log file keeps it)."""
    try:
        yield
    except BPAppError as error:
        if log is not None:
            log.error("%s", error)
        print(f"{command}: error: {error}", file=sys.stderr)
        sys.exit(USER_ERROR_EXIT)
