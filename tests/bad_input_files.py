"""The bad-input matrix's files: the broken data sets, configs and checkpoints its cases write,
the ``Case`` record each row of ``tests/test_bad_input.py`` is, and the
snapshot that shows a failed run left the earlier output as it was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bp_app.runs.layout import LOCK_FILE
from tests.fake_mnist import write_fake_mnist

MNIST = ["data=mnist", "data.batch_size=64"]


@dataclass
class Case:
    """``overrides`` for bp-train; ``setup(tmp)`` may write files and return more overrides."""

    overrides: list[str]
    expect: tuple[str, ...]
    setup: Callable[[Path], list[str]] = field(default=lambda tmp: [])


def user_experiment(tmp: Path) -> list[str]:
    experiments = tmp / "user_conf" / "experiment"
    experiments.mkdir(parents=True)
    (experiments / "mine.yaml").write_text("# @package _global_\nmodel:\n  dropuot: 0.1\n")
    return [f"hydra.searchpath=[file://{experiments.parent}]", "experiment=mine"]


def truncated_mnist(tmp: Path) -> list[str]:
    raw = write_fake_mnist(tmp / "data", n_train=60, n_test=20)
    images = raw / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:20_000])  # a download cut off
    return [*MNIST, f"data.root={tmp / 'data'}"]


def mnist_with_label(tmp: Path) -> list[str]:
    raw = write_fake_mnist(tmp / "data", n_train=60, n_test=20)
    labels = bytearray((raw / "train-labels-idx1-ubyte").read_bytes())
    labels[8 + 17] = 200  # after the 8-byte header: label 17 of a 10-class set
    (raw / "train-labels-idx1-ubyte").write_bytes(bytes(labels))
    return [*MNIST, f"data.root={tmp / 'data'}", "data.val_size=10"]


def swapped_mnist(tmp: Path) -> list[str]:
    raw = write_fake_mnist(tmp / "data", n_train=60, n_test=20)
    images, labels = raw / "train-images-idx3-ubyte", raw / "train-labels-idx1-ubyte"
    images.rename(raw / "swap")
    labels.rename(images)
    (raw / "swap").rename(labels)
    return [*MNIST, f"data.root={tmp / 'data'}", "data.val_size=10"]


def truncated_last(tmp: Path) -> list[str]:
    last = tmp / "outputs" / "mlp_digits" / "run" / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[:5000])  # a copy cut off, a disk that filled up
    return MNIST


def random_bytes(name: str, data: str, model: str) -> Callable[[Path], list[str]]:
    def write(tmp: Path) -> list[str]:
        (tmp / name).write_bytes(bytes(range(256)) * 8)
        return [f"model={model}", f"data={data}", f"data.path={tmp / name}"]

    return write


def csv_file(name: str, text: str, data: str, model: str) -> Callable[[Path], list[str]]:
    def write(tmp: Path) -> list[str]:
        (tmp / name).write_text(text)
        return [f"model={model}", f"data={data}", f"data.path={tmp / name}"]

    return write


def finish(run_dir: Path) -> list[str]:
    (run_dir / "metrics.json").write_text("{}\n")  # what a finished run leaves
    return []


def series(values: list[str]) -> str:
    return "month,value\n" + "".join(
        f"19{49 + i // 12}-{i % 12 + 1:02d},{v}\n" for i, v in enumerate(values)
    )


REVIEWS = "text,label\ngood film,pos\n,neg\nbad film,neg\n"
UNLABELLED = "text,label\ngood film,pos\nbad film,\n"
WITH_NAN = series(["112", "118", "nan", *[str(100 + i) for i in range(60)]])
WITH_TEXT = series(["112", "118", "lots", *[str(100 + i) for i in range(60)]])
SHORT = series([str(100 + i) for i in range(20)])
HUGE = series([str(1e300 * (1 + i % 3)) for i in range(80)])


def snapshot(folder: Path) -> dict[str, str]:
    """Every file of the run and its digest; the lock file is coordination (it names the process
    holding the directory), not output."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != LOCK_FILE
    }


def assert_kept(before: dict[str, str], folder: Path) -> None:
    after = snapshot(folder)
    changed = [name for name, digest in before.items() if after.get(name) != digest]
    assert not changed, f"earlier output changed or deleted: {changed}"
