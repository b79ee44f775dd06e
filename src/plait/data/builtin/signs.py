"""Synthetic signs: each word is a motion pattern of a few keypoints; a sentence is a sequence of them.

Written offline, deterministically from the source settings, into the cache on first use, as one .npy
file of shape (frames, keypoints * 2) per sentence plus MultimodalHugs TSVs, so the TSV source reads it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from plait.data.builtin.common import generated_once
from plait.data.sources.tsv import write_tsv

WORDS = (
    "i", "you", "we", "they", "see", "want", "go", "eat", "drink", "book", "house", "water",
    "today", "tomorrow", "not", "good", "big", "small", "friend", "school", "work", "rain", "sun", "home",
)
KEYPOINTS = 6
ENCODER_PROMPT = "__sgn__"
DECODER_PROMPT = "__en__"
VERSION = 1


def word_patterns(rng: np.random.Generator) -> np.ndarray:
    """Per word, keypoint and coordinate: offset, amplitude, cycles per word and phase of a sinusoid."""
    shape = (len(WORDS), KEYPOINTS, 2)
    return np.stack([
        rng.uniform(-0.5, 0.5, shape),
        rng.uniform(0.3, 1.0, shape),
        rng.choice([0.5, 1.0, 1.5, 2.0], shape),
        rng.uniform(0.0, 2 * np.pi, shape),
    ], axis=-1)


def perform(pattern: np.ndarray, frames: int) -> np.ndarray:
    """One word signed over `frames` frames: (frames, keypoints, 2)."""
    t = np.arange(frames)[:, None, None] / frames
    offset, amplitude, cycles, phase = np.moveaxis(pattern, -1, 0)
    return offset + amplitude * np.sin(2 * np.pi * cycles * t + phase)


def sentence_signal(words: list[int], patterns: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    """A sentence: rest, words joined by short transitions, rest; with signer variation and noise."""
    rest = np.zeros((1, KEYPOINTS, 2))
    pieces = [np.repeat(rest, rng.integers(1, 4), axis=0)]
    for word in words:
        motion = perform(patterns[word], int(rng.integers(6, 11)))
        steps = np.linspace(0, 1, 4)[1:-1, None, None]
        pieces.append(pieces[-1][-1] * (1 - steps) + motion[0] * steps)
        pieces.append(motion)
    steps = np.linspace(0, 1, 4)[1:-1, None, None]
    pieces.append(pieces[-1][-1] * (1 - steps))
    pieces.append(np.repeat(rest, rng.integers(1, 4), axis=0))
    signal = np.concatenate(pieces) * rng.uniform(0.9, 1.1) + rng.normal(0, 0.1, (1, 1, 2))
    signal = signal + rng.normal(0, noise, signal.shape)
    return signal.reshape(len(signal), -1).astype(np.float32)


def generate_signs(
    train_size: int, validation_size: int, test_size: int, vocab_size: int, min_words: int, max_words: int,
    noise: float, seed: int,
) -> Path:
    """Generate (once) and return the folder holding signals/*.npy and train/validation/test TSVs."""
    params = dict(train=train_size, validation=validation_size, test=test_size, vocab_size=vocab_size,
                  min_words=min_words, max_words=max_words, noise=noise, seed=seed, version=VERSION)
    with generated_once("signs", params) as (folder, tmp):
        if tmp is not None:
            write_signs(tmp, train_size, validation_size, test_size, vocab_size, min_words, max_words, noise, seed)
    return folder


def write_signs(tmp: Path, train_size: int, validation_size: int, test_size: int, vocab_size: int, min_words: int,
                max_words: int, noise: float, seed: int) -> None:
    """Write each sentence's signal and the TSVs into `tmp`."""
    (tmp / "signals").mkdir()
    rng = np.random.default_rng(seed)
    patterns = word_patterns(rng)
    for split, count in (("train", train_size), ("validation", validation_size), ("test", test_size)):
        rows = []
        for i in range(count):
            words = [int(w) for w in rng.integers(0, vocab_size, int(rng.integers(min_words, max_words + 1)))]
            name = f"signals/{split}-{i:06d}.npy"
            np.save(tmp / name, sentence_signal(words, patterns, noise, rng))
            rows.append({"signal": name, "signal_start": 0, "signal_end": 0, "encoder_prompt": ENCODER_PROMPT,
                         "decoder_prompt": DECODER_PROMPT, "output": " ".join(WORDS[w] for w in words)})
        write_tsv(tmp / f"{split}.tsv", rows)
