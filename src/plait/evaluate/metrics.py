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


def cider(predictions: list[str], references: list[str]) -> tuple[float, str]:
    """CIDEr-D (COCO caption evaluation's "CIDEr"), x100, from pycocoevalcap, after its Stanford PTB tokenizer.

    As in the COCO evaluation, document frequencies come from the evaluated set's references, so a score depends
    on which samples are evaluated together; each sample's score is clipped at 10 (1000 here).
    """
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    if not references:
        return 0.0, CIDER_SIGNATURE
    tokenizer = PTBTokenizer()
    refs = tokenizer.tokenize({i: [{"caption": r}] for i, r in enumerate(references)})
    hyps = tokenizer.tokenize({i: [{"caption": p}] for i, p in enumerate(predictions)})
    value, _ = Cider().compute_score(refs, hyps)
    return 100.0 * float(value), CIDER_SIGNATURE


CIDER_SIGNATURE = "cider-d|pycocoevalcap:1.2|tok:ptb|sigma:6|scale:x100|nrefs:1|df:evaluated-set"


def score(metrics: list[str], predictions: list[str], references: list[str], lowercase: bool = True) -> dict[str, Any]:
    """{'values': {metric: value}, 'signatures': {metric: signature}}."""
    values: dict[str, float] = {}
    signatures: dict[str, str] = {}
    for name in metrics:
        if name == "exact_match":
            values[name] = exact_match(predictions, references, lowercase)
            signatures[name] = f"exact_match|lowercase:{'yes' if lowercase else 'no'}|whitespace:normalised"
        elif name == "cider":
            values[name], signatures[name] = cider(predictions, references)
        else:
            values[name], signatures[name] = sacre(name, predictions, references)
    return {"values": values, "signatures": signatures}
