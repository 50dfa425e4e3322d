"""Exact resume: what a Lightning checkpoint leaves out, so that a resume continues bit for bit.

``ExactResume`` adds under ``checkpoint["bp_app_resume"]`` the random generators (torch CPU and
CUDA, numpy, Python), batch descent's gradient accumulated so far in the epoch, and, for a
checkpoint written while a step was in flight, the loader position and generators of the last
finished step. Under DDP every rank's generators are gathered (rank 0 writes the file) and each
rank restores its own. Everything is tensors, lists and ints: checkpoints still load with
``weights_only``. Details: docs/internals.md.
"""

from __future__ import annotations

import logging
import random
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
import torch.distributed as dist
from pytorch_lightning.trainer.states import TrainerFn

log = logging.getLogger(__name__)

STATE_KEY = "bp_app_resume"


def torch_generators() -> dict[str, Any]:
    """The torch generators: the CPU's, and every GPU's once CUDA is in use (a host-side copy)."""
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_initialized():  # a flag; is_available() would query the driver each call
        state["torch_cuda"] = torch.cuda.get_rng_state_all()
    return state


def all_generators(torch_state: dict[str, Any]) -> dict[str, Any]:
    """``torch_state`` plus numpy's and Python's global generators, as plain lists."""
    _, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return {
        **torch_state,
        "numpy": {
            "keys": keys.tolist(),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "python": {"version": version, "internal": list(internal), "gauss_next": gauss_next},
    }


def restore_generators(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "torch_cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["torch_cuda"])
    numpy_state = state["numpy"]
    np.random.set_state(
        (
            "MT19937",
            np.asarray(numpy_state["keys"], dtype=np.uint32),
            numpy_state["pos"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )
    python = state["python"]
    random.setstate((python["version"], tuple(python["internal"]), python["gauss_next"]))


class ExactResume(pl.Callback):
    """Saves and restores the generators (and batch descent's partial gradient); bp-train always
    adds it, so it cannot be left out of a config by accident."""

    def __init__(self) -> None:
        # The torch generators where the next batch begins: before it is fetched and augmented.
        # Only torch's move during a step (dropout, augmentation); numpy's and Python's are not
        # drawn from by any bp_app step, so their current state is their state at the boundary.
        self.boundary: dict[str, Any] | None = None
        self.loaded: dict[str, Any] | None = None

    # ---------------------------------------------------------------- step boundaries
    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.boundary = torch_generators()

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: Any, *args: Any) -> None:
        self.boundary = torch_generators()  # a host-side copy of a few kilobytes: no device sync

    # ---------------------------------------------------------------- saving
    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        progress = trainer.fit_loop.epoch_loop.batch_progress.current
        fitting = trainer.state.fn == TrainerFn.FITTING
        # A batch was fetched but its step did not finish: save the last finished step instead.
        in_flight = fitting and progress.ready > progress.processed
        generators = all_generators(
            self.boundary if in_flight and self.boundary else torch_generators()
        )
        # "generators" is rank 0's (the one a single process restores); "rank_generators" lists
        # every rank's by global rank: each draws its own dropout masks and augmentation.
        state: dict[str, Any] = {
            "generators": generators,
            "rank_generators": gather_from_ranks(trainer, generators),
        }
        if in_flight:
            # Where the unfinished batch began: TensorBatchLoader counts mini-batches, several
            # per batch with data.steps_per_batch; other loaders count batches as Lightning does.
            start = getattr(trainer.train_dataloader, "last_batch_start", progress.processed)
            rewind_loader_position(checkpoint, batches_done=start)
        mid_epoch = 0 < progress.processed < trainer.num_training_batches
        no_step_running = progress.started == progress.processed  # (crash_checkpoint.py)
        if fitting and getattr(pl_module, "full_batch", False) and mid_epoch and no_step_running:
            # Batch descent: Σ_b (n_b / N) ∇J_b so far; the epoch's update needs all of it.
            state["accumulated_grad"] = {
                name: p.grad.detach()
                for name, p in pl_module.named_parameters()
                if p.grad is not None
            }
        checkpoint[STATE_KEY] = state

    # ---------------------------------------------------------------- loading
    def on_load_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        self.loaded = checkpoint.get(STATE_KEY)  # applied at on_train_start, after all restoring

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.loaded is None:
            return
        restore_generators(own_generators(trainer, self.loaded))
        self.boundary = torch_generators()
        grads = self.loaded.get("accumulated_grad", {})
        for name, p in pl_module.named_parameters():
            if name in grads:
                p.grad = grads[name].to(device=p.device, dtype=p.dtype)
        if getattr(pl_module, "full_batch", False):
            # Lightning skips on_train_epoch_start when it resumes mid-epoch; batch descent counts
            # the epoch's samples N there (the weights n_b / N of its chunks).
            pl_module.on_train_epoch_start()
        self.loaded = None


def gather_from_ranks(trainer: pl.Trainer, generators: dict[str, Any]) -> list[dict[str, Any]]:
    """Every rank's generators, by global rank. A collective: every rank saves a checkpoint
    together (``trainer.save_checkpoint`` is one), so every rank gets here together."""
    if trainer.world_size == 1 or not dist.is_initialized():
        return [generators]
    gathered: list[Any] = [None] * trainer.world_size
    dist.all_gather_object(gathered, generators)
    return gathered


def own_generators(trainer: pl.Trainer, state: dict[str, Any]) -> dict[str, Any]:
    """This rank's saved generators; rank 0's when the checkpoint holds no state for this rank
    (saved before per-rank states, or by a different number of ranks)."""
    per_rank = state.get("rank_generators") or []
    if len(per_rank) == trainer.world_size:
        return per_rank[trainer.global_rank]
    if trainer.world_size > 1 and trainer.is_global_zero:
        log.warning(
            "The checkpoint holds the random generators of %d rank(s), this run has %d: every "
            "rank restores rank 0's, so dropout and augmentation differ from an uninterrupted "
            "run (resume with the same trainer.devices x trainer.num_nodes to keep them).",
            len(per_rank) or 1,
            trainer.world_size,
        )
    return state["generators"]


def rewind_loader_position(checkpoint: dict[str, Any], batches_done: int) -> None:
    """Set the saved loader position (TensorBatchLoader.state_dict) to the finished batches.

    The loader counts a batch as done when it hands it out; Lightning counts it when its step
    has run, and on resume rolls its own counters back to that. The two must agree.
    """
    fit_state = checkpoint.get("loops", {}).get("fit_loop", {}).get("state_dict", {})
    for loader_state in fit_state.get("combined_loader", []):
        if isinstance(loader_state, dict) and "batches_done" in loader_state:
            loader_state["batches_done"] = batches_done
