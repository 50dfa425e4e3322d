"""Read a run's TensorBoard event files back the way TensorBoard does (EventAccumulator)."""

from __future__ import annotations

from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def read_events(log_dir: Path) -> tuple[dict[str, list[tuple[int, float]]], set[str]]:
    """Every scalar as (step, value) pairs, and every histogram tag, over all event files."""
    scalars: dict[str, list[tuple[int, float]]] = {}
    histograms: set[str] = set()
    files = sorted(Path(log_dir).glob("events.out.tfevents.*"))
    assert files, f"no event files in {log_dir}"
    for path in files:
        events = EventAccumulator(str(path), size_guidance={"scalars": 0, "histograms": 0})
        events.Reload()
        for tag in events.Tags()["scalars"]:
            scalars.setdefault(tag, []).extend((e.step, e.value) for e in events.Scalars(tag))
        histograms.update(events.Tags()["histograms"])
    return scalars, histograms


def histogram_steps(log_dir: Path) -> dict[str, list[int]]:
    """The steps of every histogram tag, over all event files, in order."""
    steps: dict[str, list[int]] = {}
    for path in sorted(Path(log_dir).glob("events.out.tfevents.*")):
        events = EventAccumulator(str(path), size_guidance={"histograms": 0})
        events.Reload()
        for tag in events.Tags()["histograms"]:
            steps.setdefault(tag, []).extend(e.step for e in events.Histograms(tag))
    return {tag: sorted(found) for tag, found in steps.items()}
