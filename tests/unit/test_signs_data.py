"""The built-in signs data: deterministic, cached by content, readable as MultimodalHugs TSVs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from plait.data.builtin.signs import KEYPOINTS, WORDS, generate_signs, perform, word_patterns
from plait.data.config import DataConfig, SignsSource
from plait.data.dataset import load_splits
from plait.data.sources.tsv import read_tsv

ARGS = dict(train_size=12, validation_size=3, test_size=4, vocab_size=5, min_words=2, max_words=4, noise=0.05, seed=9)


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(path.relative_to(folder).as_posix().encode() + path.read_bytes())
    return h.hexdigest()


def test_same_settings_give_identical_files_and_are_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAIT_CACHE", str(tmp_path / "a"))
    first = generate_signs(**ARGS)
    stamp = (first / "train.tsv").stat().st_mtime_ns
    assert generate_signs(**ARGS) == first and (first / "train.tsv").stat().st_mtime_ns == stamp
    monkeypatch.setenv("PLAIT_CACHE", str(tmp_path / "b"))
    assert digest(generate_signs(**ARGS)) == digest(first)
    assert generate_signs(**{**ARGS, "seed": 10}).name != first.name


def test_sentences_use_the_vocabulary_and_signals_have_keypoints(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAIT_CACHE", str(tmp_path))
    folder = generate_signs(**ARGS)
    samples = read_tsv(folder / "train.tsv")
    assert len(samples) == 12
    for s in samples:
        words = s.target.split()
        assert 2 <= len(words) <= 4 and set(words) <= set(WORDS[:5])
        signal = np.load(s.media)
        assert signal.dtype == np.float32 and signal.shape[1] == KEYPOINTS * 2
        assert len(signal) >= 6 * len(words)  # every word lasts at least 6 frames
        assert (s.prompt, s.decoder_prompt) == ("__sgn__", "__en__")


def test_words_are_distinct_motions() -> None:
    patterns = word_patterns(np.random.default_rng(0))
    motions = np.stack([perform(p, 8).reshape(-1) for p in patterns])
    distances = np.linalg.norm(motions[:, None] - motions[None], axis=-1)
    assert distances[~np.eye(len(WORDS), dtype=bool)].min() > 1.0


def test_signs_source_loads_all_splits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAIT_CACHE", str(tmp_path))
    source = SignsSource(**ARGS)
    splits = load_splits(DataConfig(source=source), seed=0)
    assert {k: len(v) for k, v in splits.items()} == {"train": 12, "validation": 3, "test": 4}
    with pytest.raises(ValidationError, match="min_words \\(5\\) must not exceed max_words \\(3\\)"):
        SignsSource(min_words=5, max_words=3)
