"""Trained tokenizers give text back exactly (case, punctuation, spacing), or say which texts they cannot."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from plait.config.load import load_experiment
from plait.models.components.tokenizer import round_trip_failures, train_tokenizer
from plait.models.family import BuildOptions
from plait.models.registry import get_family
from plait.pipeline import prepare_data

ROOT = Path(__file__).resolve().parents[2]

FIXTURES = [
    "It is a seven.",
    "What colour is the shape?",
    "It's (fine), ok?!",
    "Mixed CASE and lower case",
    "two  spaces, trailing space ",
    "first line\nsecond line\n\ttabbed",
    "Ünïcödé wörds — and a dash…",
    "\"quoted\" [brackets] {braces} 3.14 -2 50% a/b",
    "\nWhat shape?",
]


@pytest.mark.parametrize("kind", ["wordlevel", "bpe"])
def test_every_training_text_decodes_back_exactly(kind: str) -> None:
    tok = train_tokenizer(FIXTURES, kind, 500, lowercase=False, extra_special=["<image>"])
    assert round_trip_failures(tok, FIXTURES) == []
    for text in FIXTURES:
        assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text


def test_word_level_keeps_case_punctuation_and_spaces_as_tokens() -> None:
    tok = train_tokenizer(FIXTURES, "wordlevel", 500, lowercase=False, extra_special=[])
    pieces = tok.convert_ids_to_tokens(tok("It is a seven.", add_special_tokens=False)["input_ids"])
    assert pieces == ["\u2581It", "\u2581is", "\u2581a", "\u2581seven", "."]
    # a word reads the same at the start of a text and after a space: one token, not two
    assert tok("is", add_special_tokens=False)["input_ids"] == tok("It is", add_special_tokens=False)["input_ids"][1:]


def test_special_tokens_split_out_and_are_skipped_on_decode() -> None:
    tok = train_tokenizer(["\nWhat shape?", "red"], "wordlevel", 100, lowercase=False, extra_special=["<image>"])
    ids = tok("<image>\nWhat shape?", add_special_tokens=False)["input_ids"]
    assert ids[0] == tok.convert_tokens_to_ids("<image>")
    assert tok.decode(ids, skip_special_tokens=True) == "\nWhat shape?"
    assert tok.decode(ids + [tok.eos_token_id], skip_special_tokens=True) == "\nWhat shape?"


def test_what_cannot_come_back_is_named_with_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    texts = ["Good morning.", " leading space"]
    tok = train_tokenizer(texts, "wordlevel", 100, lowercase=True, extra_special=[])
    err = capsys.readouterr().err
    assert "model.tokenizer.train: 2 of 2 training texts do not decode back exactly" in err
    assert "model.tokenizer.train.lowercase: true" in err
    failures = {f.text: f for f in round_trip_failures(tok, [*texts, "good evening."], lowercase=True)}
    assert failures["Good morning."].decoded == "good morning." and failures["Good morning."].kind == "lowercased"
    assert failures[" leading space"].kind == "leading space"
    assert failures["good evening."].kind == "unknown words" and "' evening'" in failures["good evening."].why
    assert failures["good evening."].decoded == "good."


def test_lowercasing_is_an_explicit_option_only() -> None:
    from plait.models.components.config import TrainedTokenizer

    assert TrainedTokenizer().lowercase is False
    tok = train_tokenizer(["Hello World"], "wordlevel", 100, lowercase=True, extra_special=[])
    assert tok.decode(tok("Hello World", add_special_tokens=False)["input_ids"]) == "hello world"


def test_a_small_vocabulary_reports_the_words_it_dropped() -> None:
    texts = [f"word{i} common" for i in range(30)]
    tok = train_tokenizer(texts, "wordlevel", 16, lowercase=False, extra_special=[])
    failures = round_trip_failures(tok, texts)
    assert failures and all(f.kind == "unknown words" for f in failures)
    assert "model.tokenizer.train.vocab_size" in failures[0].why


@pytest.mark.parametrize("experiment, sizes", [
    ("quickstart.yaml", ["data.source.train_size=200", "data.source.validation_size=20",
                         "data.source.test_size=40"]),
    ("quickstart.yaml", ["data.source.task=caption", "data.source.train_size=200",
                         "data.source.validation_size=20", "data.source.test_size=40"]),
    ("signs-quickstart.yaml", ["data.source.train_size=200", "data.source.validation_size=20",
                               "data.source.test_size=40"]),
])
def test_built_in_datasets_round_trip_through_the_built_processor(experiment: str, sizes: list[str]) -> None:
    """Every target of every split (the references included) and every prompt piece decodes back exactly."""
    exp = load_experiment(ROOT / "experiments" / experiment, sizes)
    data = prepare_data(exp, dry_run=False)
    built = get_family(exp.model.family).build(exp.model, data.splits["train"], BuildOptions())
    proc = built.processor
    samples = [s for split in data.splits.values() for s in split]
    targets = [s.target for s in samples]
    assert len(set(targets)) > 10
    generated = proc.decode(torch.tensor([proc.target_ids(t) for t in targets[:1]]))
    assert generated == targets[:1]
    for target in targets:
        ids = proc.target_ids(target)
        assert proc.tokenizer.unk_token_id not in ids, target
        assert proc.decode(torch.tensor([ids]))[0] == target
    if exp.model.family == "projector":
        pieces = {p for s in samples for p in s.prompt.split(exp.model.image_token) if p}
        assert pieces and round_trip_failures(proc.tokenizer, pieces) == []
