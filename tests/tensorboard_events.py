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


def accumulators(root: Path) -> list[tuple[Path, EventAccumulator]]:
    """One loaded EventAccumulator per event file anywhere under ``root`` (a run or a sweep)."""
    loaded = []
    for path in sorted(Path(root).rglob("events.out.tfevents.*")):
        events = EventAccumulator(str(path), size_guidance={"tensors": 0, "scalars": 0})
        events.Reload()
        loaded.append((path.parent, events))
    return loaded


def hparams_rows(root: Path) -> list[tuple[Path, dict[str, object], list[str]]]:
    """The HPARAMS tab's rows under ``root``: (log dir, hparams, metric tags of the row)."""
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

    rows = []
    for log_dir, events in accumulators(root):
        try:
            content = events.PluginTagToContent("hparams")
        except KeyError:
            continue
        if "_hparams_/session_start_info" not in content:
            continue
        start = HParamsPluginData.FromString(content["_hparams_/session_start_info"])
        hparams = {
            name: value.WhichOneof("kind") and getattr(value, value.WhichOneof("kind"))
            for name, value in start.session_start_info.hparams.items()
        }
        experiment = HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
        rows.append((log_dir, hparams, [m.name.tag for m in experiment.metric_infos]))
    return rows


def text(events: EventAccumulator, tag: str) -> list[tuple[int, str]]:
    """A TEXT tab entry as (step, markdown)."""
    return [
        (event.step, event.tensor_proto.string_val[0].decode())
        for event in events.Tensors(f"{tag}/text_summary")
    ]
