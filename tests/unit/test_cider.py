"""CIDEr-D from pycocoevalcap (Java tokenizer): perfect captions score the clip, wrong ones less, empty zero."""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("pycocoevalcap")
if shutil.which("java") is None:
    pytest.skip("pycocoevalcap's PTB tokenizer needs Java", allow_module_level=True)

from plait.evaluate.metrics import cider, score  # noqa: E402

REFS = ["a small red circle at the top left", "a large blue square at the bottom right", "a green triangle in the middle"]


def test_cider_matches_pycocoevalcap_and_orders_captions() -> None:
    from pycocoevalcap.cider.cider import Cider

    perfect, signature = cider(REFS, REFS)
    assert perfect == pytest.approx(1000.0)  # every caption hits CIDEr-D's per-sample clip of 10
    assert "cider-d" in signature and "x100" in signature
    hyps = ["a small red circle at the top", "a blue square", ""]
    value, _ = cider(hyps, REFS)
    tokenised = {i: [r] for i, r in enumerate(REFS)}  # already lowercase words: the PTB tokenizer leaves them
    expected, per_sample = Cider().compute_score(tokenised, {i: [h] for i, h in enumerate(hyps)})
    assert value == pytest.approx(100 * expected) and per_sample[2] == 0
    assert 0 < value < perfect
    assert score(["cider"], hyps, REFS)["values"]["cider"] == pytest.approx(value)


def test_punctuation_and_case_are_tokenised_away() -> None:
    assert cider(["A small red circle, at the top left."], REFS[:1])[0] == pytest.approx(cider(REFS[:1], REFS[:1])[0])
