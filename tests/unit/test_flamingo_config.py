"""Flamingo config and processor: errors name the field; `<image>` placement and label masking."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from plait.config.schema import Experiment
from plait.data.sample import Sample
from plait.models.components.tokenizer import train_tokenizer
from plait.models.flamingo.processor import FlamingoProcessor
from tests.tiny_families import FLAMINGO
from tests.tiny import tiny


def test_heads_must_divide_the_lm_width() -> None:
    model = {**FLAMINGO, "cross_attention": {"heads": 3}}
    with pytest.raises(ValidationError, match="cross_attention.heads: 3 does not divide .* hidden size 16"):
        Experiment.model_validate(tiny(model=model))


def test_stages_name_flamingo_parts() -> None:
    exp = tiny(model=FLAMINGO, stages=[{"name": "a", "trainable": ["resampler", "cross_attention"]}])
    assert Experiment.model_validate(exp).stages[0].trainable == ["resampler", "cross_attention"]
    with pytest.raises(ValidationError, match="unknown part 'projector'"):
        Experiment.model_validate(tiny(model=FLAMINGO, stages=[{"name": "a", "trainable": ["projector"]}]))


def test_image_marker_and_labels(tmp_path) -> None:
    tokenizer = train_tokenizer(["a red circle", "what is it"], "wordlevel", 50, True, ["<image>", "<|endofchunk|>"])
    proc = FlamingoProcessor(tokenizer, None, "<image>", "<|endofchunk|>")
    image, eoc = proc.image_token_id, proc.end_of_chunk_id
    with_image = Sample(id="a", prompt="what is it", target="a red circle", media=tmp_path / "x.png")
    ids = proc.prompt_ids(with_image) + proc.sample_target_ids(with_image)
    assert ids[:2] == [tokenizer.bos_token_id, image] and ids[-2:] == [eoc, tokenizer.eos_token_id]
    placed = Sample(id="b", prompt="what <image> is it", target="a", media=tmp_path / "x.png")
    assert proc.prompt_ids(placed).index(image) == 2 and proc.prompt_ids(placed).count(image) == 1
    text = Sample(id="c", prompt="", target="a red circle")
    encoded = {"input_ids": proc.prompt_ids(text) + proc.sample_target_ids(text)}
    assert image not in encoded["input_ids"] and eoc not in encoded["input_ids"]
    labels = proc.collate([{"input_ids": ids, "labels": [-100] * 5 + ids[5:], "pixel_values": None},
                           {"input_ids": ids[:3], "labels": [-100] * 3, "pixel_values": None}])["labels"]
    assert labels[1, 3:].eq(-100).all() and "pixel_values" not in proc.collate(
        [{"input_ids": ids, "labels": ids, "pixel_values": None}])
