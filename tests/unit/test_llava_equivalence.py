"""plait's projector model equals transformers' LlavaForConditionalGeneration holding the same weights."""

from __future__ import annotations

import pytest
import torch
from torch.testing import assert_close

from plait.config.schema import Experiment
from plait.data.sample import Sample
from plait.models.family import BuildOptions, get_family
from plait.models.projector.llava import llava_misfit, to_llava
from plait.pipeline import prepare_data
from plait.train.seed import seed_everything
from tests.tiny import tiny


def built_and_llava(**updates):
    exp = Experiment.model_validate(tiny(**{"model.vision.cache_features": False, **updates}))  # Llava takes pixels
    data = prepare_data(exp, dry_run=True)
    seed_everything(0)
    built = get_family("projector").build(exp.model, data.splits["train"], BuildOptions())
    model = built.model.eval()
    llava = to_llava(model.vision, model.projector, model.language, exp.model, model.image_token_id,
                     built.processor.num_image_tokens)
    return built, llava, data.splits["test"][:6]


@pytest.mark.parametrize("updates", [
    {},  # last layer, class token kept ("full")
    {"model.vision.layer": -2, "model.vision.drop_cls": True},  # LLaVA's choice: the layer before, patches only
    {"model.projector.activation": "silu"},
])
def test_llava_gives_the_same_logits(updates):
    built, llava, samples = built_and_llava(**updates)
    batch = built.processor.collate([built.processor.encode_train(s) for s in samples])
    batch.pop("labels")
    with torch.no_grad():
        ours = built.model(**batch).logits
        theirs = llava(**batch).logits
    assert ours.shape == theirs.shape
    assert_close(ours, theirs)


def test_llava_generates_the_same_tokens():
    built, llava, samples = built_and_llava()
    batch = built.processor.collate_prompts([built.processor.encode_prompt(s) for s in samples])
    settings = {"max_new_tokens": 5, "do_sample": False, "num_beams": 1}
    ours = built.model.generate(**batch, **settings)
    with torch.no_grad():
        theirs = llava.generate(**batch, **settings)[:, batch["input_ids"].shape[1]:]
    assert torch.equal(ours, theirs)


def test_text_only_samples_match_too():
    built, llava, samples = built_and_llava()
    ids = torch.tensor([built.processor.prompt_ids(Sample(id="t", prompt="what shape is it?", target=""))])
    with torch.no_grad():
        assert_close(built.model(input_ids=ids).logits, llava(input_ids=ids).logits)


def test_misfits_are_named():
    pooled = Experiment.model_validate(tiny(**{"model.vision.feature": "pooled"})).model
    linear = Experiment.model_validate(tiny(**{"model.projector.kind": "linear"})).model
    assert "pooled" in llava_misfit(pooled)
    assert "2-layer" in llava_misfit(linear)
    assert llava_misfit(Experiment.model_validate(tiny()).model) is None
