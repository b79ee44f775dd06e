"""A batch's prompts encoded together (one tokenizer call, one image-processor call) give, bit for bit, what encoding
each alone gives, for every family that generates; generation and serving take the batched path, and generating
from it gives the very ids the per-sample path gives."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from plait.data.sample import Sample
from plait.evaluate.generate import generate
from plait.models.components.text import TextProcessor
from plait.models.family import Built, BuildOptions, get_family
from plait.models.mapper.config import MapperModelConfig
from plait.models.text.config import TextModelConfig
from plait.pipeline import prepare_data
from plait.serve.session import LoadedRun
from plait.train.seed import seed_everything
from tests.mapper_data import TINY_T5, npy_samples
from tests.text_tiny import WORDS, corpus, text_model
from tests.tiny_adapter import tiny_model as adapter_model
from tests.tiny_families import FLAMINGO, GIT
from tests.unit.test_batched_encoding import (QUICKSTART, SMALL_DATA, assert_identical, family_experiment,
                                              odd_samples, quickstart)

IMAGE_FAMILIES = ["quickstart", "between", "adapter", "flamingo", "git"]
FAMILIES = [*IMAGE_FAMILIES, "mapper", "text"]


def image_built(name: str) -> tuple[Built, list[Sample]]:
    from plait.config import load_experiment

    models = {"adapter": adapter_model(), "flamingo": FLAMINGO, "git": GIT}
    if name in models:
        exp = family_experiment(models[name])
    else:  # the projector: image tokens at the marker (quickstart) or between a fixed prefix and suffix
        exp = quickstart() if name == "quickstart" else load_experiment(QUICKSTART, [
            *SMALL_DATA, "model.placement=between", "model.prefix=\"a picture:\"", "model.suffix=\" shape\""])
    data = prepare_data(exp, dry_run=True)
    seed_everything(0)
    return get_family(exp.model.family).build(exp.model, data.splits["train"], BuildOptions()), data.splits["train"]


def mapper_built(folder: Path) -> tuple[Built, list[Sample]]:
    targets = ["guten morgen", "es regnet heute", "morgen sonnig", "heute nicht", "guten tag"]
    samples = npy_samples(folder / "signals", targets, prompt="__sgn__", decoder_prompt="__de__")
    samples[1] = dataclasses.replace(samples[1], prompt="", decoder_prompt="")  # nothing forced
    samples[2] = dataclasses.replace(samples[2], prompt="__asl__ morgen", decoder_prompt="")
    samples[3] = dataclasses.replace(samples[3], decoder_prompt="__de__ heute")
    cfg = MapperModelConfig.model_validate({"family": "mapper", "backbone": {"config": TINY_T5},
                                            "tokenizer": {"train": {"kind": "wordlevel"}}, "dropout": 0.0})
    seed_everything(0)
    return get_family("mapper").build(cfg, samples, BuildOptions()), samples


def text_built() -> tuple[Built, list[Sample]]:
    rng = random.Random(1)
    prompts = ["the cat", "a big red dog", "", "the cat", "zebra unknown words", " ".join(rng.choice(WORDS)
                                                                                        for _ in range(70))]
    samples = [Sample(id=f"p{i}", prompt=p, target="sees") for i, p in enumerate(prompts)]  # 70 words: truncated
    seed_everything(0)
    return get_family("text").build(TextModelConfig.model_validate(text_model("causal_lm")), corpus(),
                                    BuildOptions()), samples


@pytest.fixture(scope="module")
def families(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Built, list[Sample]]]:
    """Each family's randomly initialised model and the prompts to encode (odd images, a sample without one,
    prompts with and without the image marker; for the mapper and text families their own odd prompts)."""
    folder = tmp_path_factory.mktemp("prompts")
    out: dict[str, tuple[Built, list[Sample]]] = {}
    for name in IMAGE_FAMILIES:
        built, train = image_built(name)
        out[name] = built, train[:6] + odd_samples(folder) + [dataclasses.replace(train[0], id="again")]
    out["mapper"] = mapper_built(folder)
    out["text"] = text_built()
    return out


@pytest.mark.parametrize("name", FAMILIES)
def test_batched_prompts_are_per_sample_prompts_bit_for_bit(name, families):
    built, samples = families[name]
    processor = built.processor
    assert type(processor).encode_prompt_many is not TextProcessor.encode_prompt_many  # a batched version of its own
    batched = processor.encode_prompt_many(samples)
    single = [processor.encode_prompt(s) for s in samples]
    assert_identical(batched, single)
    assert processor.encode_prompt_many([]) == []
    if name in IMAGE_FAMILIES:
        assert sum(b["pixel_values"] is not None for b in batched) == len(samples) - 1  # the text-only sample
        assert processor.encode_prompt_many([samples[-2]])[0]["pixel_values"] is None  # a batch with no image
    if name == "text":
        assert len(single[-1]["input_ids"]) == processor.settings.max_length  # truncated alike
    assert_identical([processor.collate_prompts(batched)], [processor.collate_prompts(single)])


def test_the_batched_path_makes_one_tokenizer_and_one_image_processor_call(families, monkeypatch):
    built, samples = families["quickstart"]
    processor = built.processor
    calls = {"tokenizer": 0, "images": 0}
    tokenizer, images = type(processor.tokenizer).__call__, type(processor.image_processor).__call__

    def count(kind: str, real: Any) -> Any:
        def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
            calls[kind] += 1
            return real(self, *args, **kwargs)
        return spy

    monkeypatch.setattr(type(processor.tokenizer), "__call__", count("tokenizer", tokenizer))
    monkeypatch.setattr(type(processor.image_processor), "__call__", count("images", images))
    processor.encode_prompt_many(samples)
    assert calls == {"tokenizer": 1, "images": 1}


def generated(built: Built, samples: list[Sample]) -> tuple[list[str], list[torch.Tensor]]:
    """What `generate` gives, and every step's scores as the model's generate saw them (they show media a random
    model's greedy ids may not), through a transformers logits processor that keeps them and changes nothing."""
    from transformers import LogitsProcessorList

    scores: list[torch.Tensor] = []

    def keep(ids: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
        scores.append(step.clone())
        return step

    texts = generate(built.model, built.processor, samples, max_new_tokens=4, batch_size=4, progress=False,
                     logits_processor=LogitsProcessorList([keep]))
    return texts, scores


@pytest.mark.parametrize("name", ["quickstart", "adapter", "git", "mapper", "text"])
def test_generation_is_the_same_on_the_batched_and_the_per_sample_path(name, families, monkeypatch):
    built, samples = families[name]
    cls = type(built.processor)
    batched, seen = cls.encode_prompt_many, []

    def spy(self: Any, chunk: list[Sample]) -> list[dict[str, Any]]:
        seen.append(len(chunk))
        return batched(self, chunk)

    monkeypatch.setattr(cls, "encode_prompt_many", spy)
    fast, fast_scores = generated(built, samples)
    assert seen == [len(c) for c in (samples[i:i + 4] for i in range(0, len(samples), 4))]  # whole batches
    monkeypatch.setattr(cls, "encode_prompt_many", TextProcessor.encode_prompt_many)  # one sample at a time
    slow, slow_scores = generated(built, samples)
    assert fast == slow and len(fast) == len(samples)
    assert len(fast_scores) == len(slow_scores) > 4  # a few steps of each batch
    assert all(torch.equal(a, b) for a, b in zip(fast_scores, slow_scores))  # bit for bit


def test_a_served_prompt_batch_is_the_per_sample_batch(families, monkeypatch):
    built, samples = families["flamingo"]
    run = SimpleNamespace(processor=built.processor, built=built)
    calls: list[int] = []
    batched = type(built.processor).encode_prompt_many
    monkeypatch.setattr(type(built.processor), "encode_prompt_many",
                        lambda self, chunk: calls.append(len(chunk)) or batched(self, chunk))
    got = LoadedRun.inputs(run, samples)  # type: ignore[arg-type]
    expected = built.processor.collate_prompts([built.processor.encode_prompt(s) for s in samples])
    assert calls == [len(samples)]
    assert_identical([got], [expected])
