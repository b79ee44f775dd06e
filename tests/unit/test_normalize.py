"""Training-target cleaning: lowercase, punctuation, stopwords; training split only; recorded in the run config."""

from __future__ import annotations

import pytest

from plait.config.schema import Experiment
from plait.data.normalize import normalize_text
from plait.pipeline import prepare_data
from tests.tiny import tiny


@pytest.mark.parametrize("text, settings, expected", [
    ("The cat is sitting on the red mat.", {}, "cat sitting red mat"),
    ("Don't touch the dog's bowl!", {}, "dont touch dogs bowl"),
    ("Yes, it's a well-known fact.", {"stopwords": False}, "yes its a well known fact"),
    ("The Cat, the Hat.", {"punctuation": False, "stopwords": False}, "the cat, the hat."),
    ("The Cat.", {"lowercase": False, "stopwords": False}, "The Cat"),
    ("No.", {}, "no"),  # a stopword-only answer keeps its words
    ("There is no cat.", {"keep": frozenset({"no"})}, "no cat"),
    ("«Bonjour» — said the man…", {}, "bonjour said man"),
])
def test_normalize_text(text, settings, expected):
    assert normalize_text(text, **settings) == expected


def test_only_training_targets_are_cleaned_and_the_setting_is_recorded():
    raw = tiny(**{"data.normalize_targets": {"keep": ["no"]}, "data.source.task": "caption"})
    exp = Experiment.model_validate(raw)
    plain = prepare_data(Experiment.model_validate(tiny(**{"data.source.task": "caption"})), dry_run=True).splits
    cleaned = prepare_data(exp, dry_run=True).splits
    assert [s.target for s in cleaned["train"]] == [normalize_text(s.target, keep=frozenset({"no"}))
                                                  for s in plain["train"]]
    assert any(a.target != b.target for a, b in zip(cleaned["train"], plain["train"]))
    assert [s.target for s in cleaned["test"]] == [s.target for s in plain["test"]]
    assert [s.prompt for s in cleaned["train"]] == [s.prompt for s in plain["train"]]
    dumped = exp.model_dump(mode="json")["data"]["normalize_targets"]
    assert dumped == {"lowercase": True, "punctuation": True, "stopwords": True, "keep": ["no"]}
