"""Word embeddings to TensorBoard's PROJECTOR at the end of training, each row labelled with its
vocabulary word, so that neighbours in the learned space can be looked at (PCA, t-SNE)."""

from __future__ import annotations

import pytorch_lightning as pl
from torch import nn

from bp_app.callbacks.run_summary import tensorboard_writers

TAG = "word_embeddings"  # also a folder name: no slash


class EmbeddingProjector(pl.Callback):
    """Text models only: ``pl_module.net.embedding`` with the data module's vocabulary."""

    def __init__(self, max_words: int = 10000) -> None:
        if max_words < 1:
            raise ValueError(
                f"callbacks.embedding_projector.max_words must be >= 1, got {max_words}"
            )
        self.max_words = max_words  # the most frequent words: the projector slows past ~10k

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        embedding = getattr(getattr(pl_module, "net", None), "embedding", None)
        encoder = getattr(getattr(trainer, "datamodule", None), "encoder", None)
        if not isinstance(embedding, nn.Embedding) or encoder is None:
            return
        if not trainer.is_global_zero:
            return
        rows = min(self.max_words, embedding.num_embeddings)
        tokenizer = encoder.tokenizer
        words = [tokenizer.id_to_token(i) or f"<id {i}>" for i in range(rows)]
        weights = embedding.weight.detach()[:rows].float().cpu()  # (rows, E)
        for writer in tensorboard_writers(trainer):
            writer.add_embedding(weights, metadata=words, tag=TAG, global_step=trainer.global_step)
