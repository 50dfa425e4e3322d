"""bp-predict for text models: each text's label and probability, with the tokenizer the
checkpoint carries (nothing else is needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, ListConfig

from bp_app.data.text import UNK_INDEX, TextEncoder
from bp_app.data.utf8 import read_utf8
from bp_app.errors import ConfigError

PREVIEW = 60  # characters of each text echoed back


def read_lines(path: Path) -> list[str]:
    """One text per line of a UTF-8 file; a file in another encoding fails naming it."""
    missing = f"inputs={str(path)!r} does not exist: give a text file, one text per line"
    return read_utf8(path, missing).splitlines()


def texts_of(cfg: DictConfig) -> list[str]:
    """The texts that ``text=`` and ``inputs=`` name, in that order."""
    texts: list[str] = []
    if cfg.get("text") is not None:
        texts.append(str(cfg.text))
    inputs = cfg.get("inputs")
    if inputs is not None:
        paths = list(inputs) if isinstance(inputs, (list, ListConfig)) else [inputs]
        for path in paths:
            texts.extend(read_lines(Path(str(path))))
    if cfg.get("text") is None and inputs is None:
        raise ConfigError(
            'nothing to classify: pass text="this was not bad at all" '
            "or inputs=<file with one text per line>"
        )
    return texts


def notes_for(words: list[str], ids: list[int], max_len: int) -> list[str]:
    """What the reader should know about how a text was read."""
    notes = []
    if len(words) > max_len:
        notes.append(f"long text: only its first {max_len} of {len(words)} tokens were read")
    if all(i == UNK_INDEX for i in ids):
        notes.append("no word of it is in the vocabulary: the prediction rests on <unk> alone")
    return notes


def predict(model: Any, checkpoint: dict[str, Any], cfg: DictConfig) -> list[dict[str, Any]]:
    """Classify every text; print one line each: label, probability, the text, any notes."""
    state = checkpoint["bp_app"]["data_state"]
    encoder = TextEncoder.from_json(state["tokenizer"], state["max_len"])
    labels = state["labels"]
    texts = texts_of(cfg)
    words = [encoder.words(text) for text in texts]
    readable = [i for i, w in enumerate(words) if w]
    encoded = encoder.encode([texts[i] for i in readable])
    if readable:
        with torch.no_grad():
            logits = model(encoded.ids.long(), encoded.lengths)  # (N, num_classes)
        probabilities = torch.softmax(logits, dim=1)  # p(y | text) = softmax(z)_y

    results: list[dict[str, Any]] = [
        {"text": text, "label": None, "probability": None, "notes": ["empty text: nothing to read"]}
        for text in texts
    ]
    for row, i in enumerate(readable):
        p, index = probabilities[row].max(dim=0)
        ids = encoded.ids[row, : encoded.lengths[row]].tolist()
        results[i].update(
            label=labels[int(index)],
            probability=float(p),
            notes=notes_for(words[i], ids, encoder.max_len),
        )
    for result in results:
        text = result["text"]
        preview = text if len(text) <= PREVIEW else text[: PREVIEW - 3] + "..."
        label = result["label"] or "-"
        probability = "-" if result["probability"] is None else f"{result['probability']:.3f}"
        notes = "".join(f"  [{note}]" for note in result["notes"])
        print(f"{label}\t{probability}\t{preview!r}{notes}")
    return results
