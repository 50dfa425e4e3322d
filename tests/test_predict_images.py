"""End to end on a small IDX MNIST: bp-train the CNN, find its pictures, bp-predict PNG files."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from bp_app.errors import ConfigError
from bp_app.predictors.images import input_files, load_image
from tests.conftest import FAST, REPO, run_command
from tests.fake_mnist import digit_image, write_fake_mnist

EPOCHS = 3
# One torch thread: for a net this small, two threads on a busy 2-core machine spin against
# each other (measured: 3x the wall time, same results).


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """One bp-train run of model=cnn on a fake MNIST, as a user would start it."""
    tmp = tmp_path_factory.mktemp("cnn_mnist")
    write_fake_mnist(tmp / "data", n_train=1000, n_test=300, seed=0)
    fast = [o for o in FAST if not o.startswith("trainer.max_epochs")]
    result = run_command(
        "bp_app.train",
        [
            *fast,
            "model=cnn",
            "data=mnist",
            f"data.root={tmp / 'data'}",
            "data.val_size=200",
            "data.batch_size=16",
            "data.augment_shift=1",
            f"trainer.max_epochs={EPOCHS}",
            "callbacks.image_panels.every_n_epochs=1",
            "callbacks.image_panels.num_samples=9",
            f"hydra.run.dir={tmp / 'run'}",
        ],
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return tmp / "run"


def test_training_reaches_high_accuracy(trained_run):
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert metrics["test/acc"] >= 0.95, metrics


def test_pictures_in_tensorboard_and_the_run_directory(trained_run):
    events = EventAccumulator(str(trained_run / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    assert {"val/samples", "test/confusion_matrix"} <= set(events.Tags()["images"])
    samples = events.Images("val/samples")
    assert len(samples) == EPOCHS  # every_n_epochs=1
    assert [s.step for s in samples] == sorted(s.step for s in samples)
    confusion = events.Images("test/confusion_matrix")[-1]
    picture = Image.open(io.BytesIO(confusion.encoded_image_string))
    assert picture.size == (confusion.width, confusion.height) and picture.size[0] > 200

    images = trained_run / "images"
    pngs = sorted(p.name for p in images.glob("*.png"))
    expected = [f"val_samples_epoch{e:03d}.png" for e in range(EPOCHS)]
    # gradient_norms.png: the gradient-flow callback's per-layer picture, in the same folder.
    assert pngs == sorted(["confusion_matrix.png", "gradient_norms.png", *expected])
    with Image.open(images / "confusion_matrix.png") as png:
        assert png.format == "PNG" and png.size == picture.size


def test_bp_predict_on_png_files_with_one_broken(trained_run, tmp_path):
    rng = np.random.default_rng(123)
    truth = {}
    for digit in (0, 3, 7, 9):
        path = tmp_path / f"digit_{digit}.png"
        Image.fromarray(digit_image(digit, rng)).save(path)
        truth[path] = digit
    # A large dark-on-light scan: resized to 28x28 and inverted to light-on-dark.
    paper = 255 - np.kron(digit_image(4, rng), np.ones((3, 3), dtype=np.uint8))
    scan = tmp_path / "scan_4.png"
    Image.fromarray(paper).convert("RGB").save(scan)
    truth[scan] = 4
    broken = tmp_path / "broken.png"
    broken.write_text("this is not a PNG")

    files = [*list(truth)[:2], broken, *list(truth)[2:]]
    result = run_command(
        "bp_app.predict",
        [
            f"ckpt_path={trained_run / 'checkpoints' / 'last.ckpt'}",
            f"inputs=[{','.join(map(str, files))}]",
        ],
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr  # some input failed: said, and in the status
    assert f"{broken}: error: not a readable PNG or JPEG image" in result.stderr
    assert "1 of 6 inputs could not be predicted" in result.stderr
    lines = dict(line.split(": ", 1) for line in result.stdout.strip().splitlines())
    assert set(lines) == {str(p) for p in truth}  # every other file was predicted
    for path, digit in truth.items():
        label, probability = lines[str(path)].split(" (p=")
        assert int(label) == digit, result.stdout
        assert 0.1 < float(probability.rstrip(")")) <= 1.0


def test_a_folder_gives_its_images_and_no_inputs_is_a_config_error(tmp_path):
    for name in ("b.png", "a.JPG", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in input_files(str(tmp_path))] == ["a.JPG", "b.png"]
    with pytest.raises(ConfigError, match=r"inputs=\[a.png,b.png\]"):
        input_files(None)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match="holds no .png"):
        input_files(str(empty))


def test_load_image_resizes_inverts_and_normalizes(tmp_path):
    picture = np.full((40, 40, 3), 255, dtype=np.uint8)  # white paper
    picture[10:30, 15:25] = 0  # a black stroke: output rows 2-5, columns 3-4 (5x5 px boxes)
    Image.fromarray(picture).save(tmp_path / "one.jpg", quality=100)
    x = load_image(tmp_path / "one.jpg", [1, 8, 8], {"mean": 0.2, "std": 0.5})
    assert x.shape == (1, 8, 8)
    # Inverted: the paper is black, (0 - 0.2) / 0.5; the stroke white, (1 - 0.2) / 0.5.
    assert abs(float(x[0, 0, 0]) - (-0.4)) < 0.02
    assert abs(float(x[0, 4, 4]) - 1.6) < 0.02 and abs(float(x[0, 4, 5]) - (-0.4)) < 0.02
