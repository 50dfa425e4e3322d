"""How long the text pipeline takes on an IMDB-sized corpus: 50,000 reviews of about 230 words,
fit the vocabulary on them and encode them to padded id tensors (the work ``data=imdb`` does)."""

from __future__ import annotations

import time

import numpy as np

from bp_app.data.text import TextEncoder

REVIEWS = 50_000
QUICK_REVIEWS = 5_000
MEAN_WORDS = 230  # IMDB reviews average about 230 words
VOCABULARY = 50_000  # distinct synthetic words, drawn with Zipf-like frequencies as in English


def synthetic_reviews(n: int, seed: int = 0) -> list[str]:
    """``n`` reviews of random words and punctuation with IMDB's length spread (not timed)."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    word_lengths = rng.integers(2, 10, size=VOCABULARY)
    words = ["".join(rng.choice(letters, size=k)) for k in word_lengths]
    words[:6] = ["the", ",", ".", "and", "a", "<br /><br />"]  # the commonest, as in IMDB
    frequency = 1.0 / np.arange(1, VOCABULARY + 1)  # Zipf: the r-th word has frequency ∝ 1/r
    lengths = np.clip(rng.lognormal(np.log(MEAN_WORDS) - 0.3, 0.75, size=n), 10, 2500).astype(int)
    draws = rng.choice(VOCABULARY, size=int(lengths.sum()), p=frequency / frequency.sum())
    vocabulary = np.array(words, dtype=object)
    ends = np.cumsum(lengths)
    return [" ".join(vocabulary[draws[e - k : e]]) for e, k in zip(ends, lengths, strict=True)]


def run(quick: bool = False) -> dict[str, float]:
    """Seconds to fit the vocabulary and to encode the whole corpus (quick: 5,000 reviews)."""
    n = QUICK_REVIEWS if quick else REVIEWS
    reviews = synthetic_reviews(n)
    cpu_start, start = time.process_time(), time.perf_counter()
    encoder = TextEncoder.fit(reviews, max_size=25_000, min_freq=2, max_len=256)
    fitted = time.perf_counter()
    encoded = encoder.encode(reviews)
    done, cpu_done = time.perf_counter(), time.process_time()
    return {
        "reviews": n,
        "words": sum(len(r.split()) for r in reviews),
        "fit_vocabulary_s": fitted - start,
        "encode_s": done - fitted,
        "total_s": done - start,
        # CPU seconds of this process (all its threads): less noisy than wall time on a busy host.
        "cpu_s": cpu_done - cpu_start,
        "reviews_per_s": n / (done - start),
        "tokens_kept": int(encoded.lengths.sum()),
    }


if __name__ == "__main__":
    for key, value in run(quick=False).items():
        print(f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}")
