"""The composed default config trains in-process (the same function bp-train calls)."""

from bp_app.train import train
from tests.conftest import FAST


def test_train_in_process_writes_metrics(train_config, tmp_path):
    cfg = train_config([*FAST, "logger=none"])
    metrics = train(cfg)
    assert set(metrics) >= {"val/loss", "val/acc", "test/loss", "test/acc"}
    assert (tmp_path / "run" / "metrics.json").is_file()
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file()
