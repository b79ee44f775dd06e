"""Metrics: exact match normalisation and sacrebleu scores with signatures."""

from __future__ import annotations

import pytest

from plait.evaluate.metrics import exact_match, score


def test_exact_match_normalises_case_and_spaces():
    assert exact_match(["Red ", "a  blue"], ["red", "a blue"]) == 100.0
    assert exact_match(["Red"], ["red"], lowercase=False) == 0.0
    assert exact_match(["x", "y", "z", "w"], ["x", "y", "z", "q"]) == 75.0


def test_sacrebleu_scores_carry_signatures():
    result = score(["bleu", "chrf", "ter"], ["a red circle"], ["a red circle"])
    assert result["values"]["bleu"] == pytest.approx(100.0)
    assert result["values"]["chrf"] == pytest.approx(100.0)
    assert result["values"]["ter"] == pytest.approx(0.0)
    assert "nrefs:1" in result["signatures"]["bleu"] and "eff:yes" in result["signatures"]["bleu"]
    assert result["signatures"]["chrf"].startswith("nrefs:1")


def test_short_sentences_get_effective_order():
    result = score(["bleu"], ["red"], ["red"])
    assert result["values"]["bleu"] == pytest.approx(100.0)
