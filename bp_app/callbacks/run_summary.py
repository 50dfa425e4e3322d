"""TensorBoard's TEXT and GRAPHS tabs for a run: the composed config and the command line as
text at the start, and the network traced on one example batch."""

from __future__ import annotations

import logging
import sys
import warnings
from typing import Any

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.loggers import TensorBoardLogger

log = logging.getLogger(__name__)

CONFIG_TAG = "run/config"
COMMAND_TAG = "run/command"


def tensorboard_writers(trainer: pl.Trainer) -> list[Any]:
    """The SummaryWriters of the run's TensorBoard loggers (none when it logs elsewhere)."""
    return [lg.experiment for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)]


def config_yaml(cfg: DictConfig) -> str:
    """The composed config as the run used it (interpolations resolved, Hydra's own node left
    out: it is in .hydra/hydra.yaml)."""
    keys = [key for key in cfg if key != "hydra"]
    try:
        return OmegaConf.to_yaml(
            {key: OmegaConf.to_container(cfg[key], resolve=True) for key in keys}
        )
    except Exception:  # an interpolation that resolves only inside Hydra's run: as written
        return OmegaConf.to_yaml({key: cfg[key] for key in keys})


def command_line() -> str:
    """This run's command: bp-train and its overrides (a sweep's job: the job's own)."""
    try:
        from hydra.core.hydra_config import HydraConfig

        overrides = list(HydraConfig.get().overrides.task)
    except ValueError:  # train(cfg) called without Hydra's runtime: the process's arguments
        overrides = sys.argv[1:]
    return " ".join(["bp-train", *overrides])


class RunSummary(pl.Callback):
    """On rank zero when fitting starts: the config (YAML), the command line and the graph."""

    def __init__(self, config_yaml: str, command: str, graph: bool = True) -> None:
        self.config_yaml = config_yaml
        self.command = command
        self.graph = graph

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        writers = tensorboard_writers(trainer)
        if not writers or not trainer.is_global_zero:
            return
        for writer in writers:
            # Markdown: four-space indents keep the YAML's layout in the TEXT tab.
            indented = "\n".join(f"    {line}" for line in self.config_yaml.splitlines())
            writer.add_text(CONFIG_TAG, indented, global_step=trainer.global_step)
            writer.add_text(COMMAND_TAG, f"    {self.command}", global_step=trainer.global_step)
        if self.graph:
            add_graph(trainer, pl_module, writers)


def example_input(trainer: pl.Trainer, pl_module: pl.LightningModule) -> Any:
    """Two examples of the validation data, as the network's forward takes them: token models
    read (ids, lengths), the others the batch's first tensor (images, windows)."""
    batch = next(iter(trainer.datamodule.val_dataloader()))
    if getattr(pl_module, "input_kind", None) == "tokens":
        return tuple(t[:2].to(pl_module.device) for t in batch[:2])
    return batch[0][:2].to(pl_module.device)


def add_graph(trainer: pl.Trainer, pl_module: pl.LightningModule, writers: list[Any]) -> None:
    """The network (``pl_module.net``, a plain module) traced by torch.jit; a network that does
    not trace (packed sequences, data-dependent control flow) is skipped with one log line."""
    network = getattr(pl_module, "net", pl_module)
    # Drawing the example must not move the run's random streams: a resumed run draws it again.
    with torch.random.fork_rng(devices=[]):
        _add_graph(trainer, pl_module, network, writers)


def _add_graph(
    trainer: pl.Trainer, pl_module: pl.LightningModule, network: Any, writers: list[Any]
) -> None:
    try:
        example = example_input(trainer, pl_module)
        training = network.training
        network.eval()  # trace without dropout; no gradients are taken
        try:
            with warnings.catch_warnings():  # torch 2.14 marks jit.trace deprecated; TB uses it
                warnings.simplefilter("ignore", FutureWarning)
                for writer in writers:
                    writer.add_graph(network, example, use_strict_trace=False)
        finally:
            network.train(training)
    except Exception as error:  # tracing is best effort: the run itself is unaffected
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        log.info(
            "TensorBoard graph skipped: %s does not trace (%s)", type(network).__name__, reason
        )
