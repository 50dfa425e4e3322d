"""A command's process and Python's cyclic garbage collector: freeze what the imports built.

Importing torch, Lightning and torchmetrics leaves about 440,000 objects that live until the
process ends. CPython's full (generation 2) collection walks every one of them (0.22 s each on
2 CPU cores), runs several times during a 3-epoch ``bp-train``, and the interpreter's exit walks
them again: together about 2 s of an 9 s process (docs/bench.md). ``gc.freeze()`` moves the
objects alive at that moment into a permanent generation the collector never visits; objects
made later (the run's model, data, trainer) are collected as usual.

Only a command's own process freezes (``bp-train``, ``bp-eval`` mark it with
``command_process``): a process that calls ``train()`` many times, such as the test suite, keeps
the collector as it is, so no test's garbage is kept alive by a freeze.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

_command = False  # set while a command's entry point runs (command_process)


@contextmanager
def command_process() -> Iterator[None]:
    """Mark the code inside as a command's one run: its heavy imports may be frozen."""
    global _command
    _command = True
    try:
        yield
    finally:
        _command = False


@contextmanager
def frozen_imports() -> Iterator[None]:
    """Around the heavy imports of a command: no collection while they run, then freeze them.

    Outside ``command_process``, or when this process froze before (a sweep's second run), this
    does nothing.
    """
    if not _command or gc.get_freeze_count():
        yield
        return
    enabled = gc.isenabled()
    gc.disable()  # the imports' objects all live on: walking them while they load is wasted
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
        log.info("Frozen out of the garbage collector's walks: %d objects", gc.get_freeze_count())
