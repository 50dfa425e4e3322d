"""runs/heap.py: a command's process freezes its imports out of the garbage collector's walks,
and only a command's process does (the suite calls train() many times in one process)."""

from __future__ import annotations

import gc

from bp_app.runs.heap import command_process, frozen_imports


def test_outside_a_command_nothing_is_frozen_and_the_collector_stays_on():
    assert gc.get_freeze_count() == 0
    with frozen_imports():
        assert gc.isenabled()
    assert gc.get_freeze_count() == 0 and gc.isenabled()


def test_a_command_imports_without_collections_then_freezes_them():
    try:
        with command_process(), frozen_imports():
            assert not gc.isenabled()  # no walk over objects that all live on
            made = [[i] for i in range(1000)]  # tracked objects made inside, like an import's
        assert gc.isenabled()
        assert gc.get_freeze_count() >= len(made)
        # The collector no longer sees them: they are in the permanent generation.
        assert not any(o is made[500] for o in gc.get_objects())
        # A second run in the same process (a sweep) freezes nothing more.
        with command_process(), frozen_imports():
            assert gc.isenabled()
            later = [[i] for i in range(1000)]
        assert any(o is later[500] for o in gc.get_objects())  # still the collector's
    finally:
        gc.unfreeze()  # give this test process its collector back as it was
    assert gc.get_freeze_count() == 0


def test_a_command_keeps_the_collector_off_when_it_was_off():
    gc.disable()
    try:
        with command_process(), frozen_imports():
            pass
        assert not gc.isenabled()
    finally:
        gc.unfreeze()
        gc.enable()
