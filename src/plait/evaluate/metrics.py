"""Metrics as pure functions of predictions and references; sacrebleu metrics carry their signatures."""

from __future__ import annotations

from typing import Any

import sacrebleu

LOWER_IS_BETTER = frozenset({"loss", "ter", "unparsable"})
"""Metrics where a smaller value is better (every other metric: larger is better)."""


def exact_match(predictions: list[str], references: list[str], lowercase: bool = True) -> float:
    """Share (0-100) of predictions equal to their reference after whitespace normalisation."""
    if not references:
        return 0.0

    def norm(text: str) -> str:
        text = " ".join(text.split())
        return text.lower() if lowercase else text

    hits = sum(norm(p) == norm(r) for p, r in zip(predictions, references, strict=True))
    return 100.0 * hits / len(references)


def sacre(name: str, predictions: list[str], references: list[str]) -> tuple[float, str]:
    """BLEU (effective order, for short texts), chrF or TER with its signature."""
    if name == "bleu":
        metric = sacrebleu.BLEU(effective_order=True)
    elif name == "chrf":
        metric = sacrebleu.CHRF()
    elif name == "ter":
        metric = sacrebleu.TER()
    else:
        raise ValueError(f"unknown sacrebleu metric {name!r}")
    score = metric.corpus_score(predictions, [references])
    return float(score.score), str(metric.get_signature())


def score(metrics: list[str], predictions: list[str], references: list[str], lowercase: bool = True) -> dict[str, Any]:
    """{'values': {metric: value}, 'signatures': {metric: signature}}."""
    values: dict[str, float] = {}
    signatures: dict[str, str] = {}
    for name in metrics:
        if name == "exact_match":
            values[name] = exact_match(predictions, references, lowercase)
            signatures[name] = f"exact_match|lowercase:{'yes' if lowercase else 'no'}|whitespace:normalised"
        else:
            values[name], signatures[name] = sacre(name, predictions, references)
    return {"values": values, "signatures": signatures}
