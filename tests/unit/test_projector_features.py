"""The projector family's two feature kinds (CLIP's pooled embedding, patch hidden states) and two ways of
placing image tokens (an <image> placeholder, or between a fixed prefix and suffix)."""

from __future__ import annotations

import pytest
import torch
from torch.testing import assert_close

from plait.config.schema import Experiment
from plait.data.sample import Sample
from plait.models.family import BuildOptions, get_family
from plait.pipeline import prepare_data
from plait.train.seed import seed_everything
from tests.tiny import tiny


def build(**updates):
    # pixels, not cached encoder outputs, so the tests can swap images and recompute features
    exp = Experiment.model_validate(tiny(**{"model.vision.cache_features": False, **updates}))
    data = prepare_data(exp, dry_run=True)
    seed_everything(0)
    return get_family("projector").build(exp.model, data.splits["train"], BuildOptions()), data.splits["test"]


def pixels(built, samples):
    return built.processor.collate([built.processor.encode_train(s) for s in samples[:2]])["pixel_values"]


def test_pooled_features_are_one_token_from_clips_projected_embedding():
    built, samples = build(**{"model.vision.feature": "pooled"})
    model = built.model
    assert built.processor.num_image_tokens == 1
    assert model.projector.net[0].in_features == model.vision.config.projection_dim  # 16, not hidden_size
    values = pixels(built, samples)
    expected = model.projector(model.vision(pixel_values=values).image_embeds[:, None, :])
    assert_close(model.image_features(values), expected)


@pytest.mark.parametrize("layer, drop_cls, tokens", [(-1, False, 5), (-2, True, 4)])
def test_patch_features_are_one_token_per_patch_from_the_chosen_layer(layer, drop_cls, tokens):
    built, samples = build(**{"model.vision.layer": layer, "model.vision.drop_cls": drop_cls})
    model = built.model
    assert built.processor.num_image_tokens == tokens  # 16x16 image, 8x8 patches: 4 patches (+ class token)
    values = pixels(built, samples)
    hidden = model.vision(pixel_values=values, output_hidden_states=True).hidden_states[layer]
    assert_close(model.image_features(values), model.projector(hidden[:, 1:] if drop_cls else hidden))


def ids(built, text):
    return built.processor.tokenizer(text, add_special_tokens=False)["input_ids"]


def test_placeholder_puts_image_tokens_where_the_prompt_says_or_first():
    built, _ = build()
    proc = built.processor
    image, bos, n = proc.image_token_id, proc.tokenizer.bos_token_id, proc.num_image_tokens
    sample = Sample(id="a", prompt="what <image> shape is it?", target="", media=_image())
    # each side of the placeholder is encoded as written (the trained tokenizer keeps spaces)
    assert proc.prompt_ids(sample) == [bos] + ids(built, "what ") + [image] * n + ids(built, " shape is it?")
    first = Sample(id="b", prompt="what shape is it?", target="", media=_image())
    assert proc.prompt_ids(first) == [bos] + [image] * n + ids(built, "what shape is it?")


def test_between_puts_image_tokens_between_prefix_and_suffix_then_the_prompt():
    built, _ = build(**{"model.placement": "between", "model.prefix": "describe", "model.suffix": "shape",
                        "model.vision.feature": "pooled"})
    proc = built.processor
    sample = Sample(id="a", prompt="<image>\nwhat color is it?", target="", media=_image())
    expected = [proc.tokenizer.bos_token_id] + ids(built, "describe") + [proc.image_token_id] + ids(built, "shape") \
        + ids(built, "\nwhat color is it?")  # the prompt as written, without the placeholder
    assert proc.prompt_ids(sample) == expected


@pytest.mark.parametrize("updates", [{}, {"model.vision.feature": "pooled", "model.placement": "between",
                                          "model.prefix": "describe", "model.suffix": "shape"}])
def test_the_image_reaches_the_language_model(updates):
    built, samples = build(**updates)
    batch = built.processor.collate([built.processor.encode_train(s) for s in samples[:2]])
    built.model.eval()
    with torch.no_grad():
        logits = built.model(**{k: v for k, v in batch.items() if k != "labels"}).logits
        batch["pixel_values"] = batch["pixel_values"].flip(0)  # swap the two images
        swapped = built.model(**{k: v for k, v in batch.items() if k != "labels"}).logits
    assert not torch.allclose(logits, swapped)


def _image():
    from tests.tiny_llava import shapes_folder

    return shapes_folder() / "images" / "train-000000.png"
