"""bp-eval: test a checkpoint on the data it was trained on (or another) and print the metrics."""

from __future__ import annotations

import logging

import hydra
from omegaconf import DictConfig

from bp_app.compat.hydra_help import shared_repository_help
from bp_app.compat.lightning_logs import lightning_logs_to_stderr
from bp_app.config import config_dir, container
from bp_app.config.schema import register_schemas
from bp_app.errors import user_errors
from bp_app.runs.heap import command_process, frozen_imports
from bp_app.runs.layout import existing_checkpoint

log = logging.getLogger(__name__)
register_schemas()
shared_repository_help()  # --help copies Hydra's config repository once, not per group
lightning_logs_to_stderr()  # before Hydra sets up logging, as importing Lightning here did


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Test metrics of ``cfg.ckpt_path``, as bp-train's test stage reports them."""
    existing_checkpoint(cfg.ckpt_path)  # a wrong path answers before torch and Lightning load
    with frozen_imports():  # a command's process: out of the collector's walks (runs/heap.py)
        import pytorch_lightning as pl

        from bp_app.config.build import instantiate, set_threads, trainer_node
        from bp_app.runs.checkpoint_fit import check_data_fits_checkpoint
        from bp_app.runs.checkpoints import load_checkpoint, load_model

    checkpoint = load_checkpoint(cfg.ckpt_path)
    pl.seed_everything(cfg.seed, workers=True)
    data_config = container(cfg.data) if cfg.get("data") else checkpoint["bp_app"]["data"]
    datamodule = instantiate(data_config, "data", _convert_="all")
    check_data_fits_checkpoint(cfg.ckpt_path, checkpoint, datamodule)  # data=<other>: same sizes
    model = load_model(cfg.ckpt_path, checkpoint)
    set_threads(cfg)
    trainer = instantiate(trainer_node(cfg), "trainer", logger=False, _convert_="all")
    results = trainer.test(model, datamodule=datamodule)
    metrics = {k: float(v) for k, v in results[0].items()} if results else {}
    summary = ", ".join(f"{k} = {v:.4f}" for k, v in sorted(metrics.items()))
    print(f"bp-eval {cfg.ckpt_path}: {summary}")
    return metrics


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="eval")
def main(cfg: DictConfig) -> None:
    with user_errors("bp-eval"), command_process():
        evaluate(cfg)


if __name__ == "__main__":
    main()
