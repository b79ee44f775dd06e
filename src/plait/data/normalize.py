"""Target-text cleaning for training: lowercase, punctuation and English stopwords removed."""

from __future__ import annotations

import dataclasses
import unicodedata
from functools import cache

from plait.data.sample import Sample

APOSTROPHES = "'\u2019"


@cache
def english_stopwords() -> frozenset[str]:
    """scikit-learn's English stopword list (ships with the package; nltk's needs a download)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


def strip_punctuation(text: str) -> str:
    """Apostrophes vanish (so words stay whole); every other Unicode punctuation mark becomes a space."""
    out = []
    for char in text:
        if char in APOSTROPHES:
            continue
        out.append(" " if unicodedata.category(char).startswith("P") else char)
    return "".join(out)


def normalize_text(text: str, lowercase: bool = True, punctuation: bool = True, stopwords: bool = True,
                   keep: frozenset[str] = frozenset()) -> str:
    """The cleaned text, words separated by single spaces."""
    if lowercase:
        text = text.lower()
    if punctuation:
        text = strip_punctuation(text)
    words = text.split()
    if stopwords:
        drop = english_stopwords() - {w.lower() for w in keep}
        content = [w for w in words if w.lower() not in drop]
        words = content or words  # an answer of stopwords only ("no", "none") would otherwise vanish
    return " ".join(words)


def normalize_targets(samples: list[Sample], lowercase: bool, punctuation: bool, stopwords: bool,
                      keep: list[str]) -> list[Sample]:
    """Samples with cleaned targets (prompts untouched)."""
    kept = frozenset(keep)
    return [dataclasses.replace(s, target=normalize_text(s.target, lowercase, punctuation, stopwords, kept))
            for s in samples]
