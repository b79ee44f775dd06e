"""The adapter family's model: identity at initialisation, routing by the modality token, what trains."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch

from plait.models.adapter.build import assemble, build, build_tokenizer, load, save
from plait.models.adapter.config import AdapterModelConfig
from plait.models.adapter.model import AdapterVLM
from plait.models.adapter.modules import RouterAdapter
from plait.models.projector.build import build_language, build_vision
from tests.tiny_adapter import samples, tiny_model


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return samples(tmp_path_factory.mktemp("adapter"))


@pytest.fixture()
def built(data):
    torch.manual_seed(0)
    return build(AdapterModelConfig.model_validate(tiny_model()), data)


def batch_of(built, data, prompts=False):
    p = built.processor
    if prompts:
        return p.collate_prompts([p.encode_prompt(s) for s in data])
    return p.collate([p.encode_train(s) for s in data])


def test_adapters_are_the_identity_at_initialisation(data):
    torch.manual_seed(0)
    cfg = AdapterModelConfig.model_validate(tiny_model())
    tokenizer = build_tokenizer(cfg, [t for s in data for t in (s.prompt, s.target)])
    vision, language = build_vision(cfg), build_language(cfg, tokenizer)
    bare_vision, bare_language = copy.deepcopy(vision), copy.deepcopy(language)
    model = assemble(cfg, vision, language, tokenizer, 0.0).eval()
    assert len(model.adapters()) == 3 + 4
    from plait.models.adapter.processor import AdapterProcessor

    processor = AdapterProcessor(tokenizer, None, 2)
    processor.pixels = lambda s: None if s.media is None else torch.rand(3, 16, 16)
    for side in ("collate", "collate_prompts"):  # right padding (training) and left padding (generation)
        batch = getattr(processor, side)([processor.encode_train(s) for s in data])
        batch.pop("labels", None)
        with torch.no_grad():
            embeds, mask, positions = model.inputs(**batch)
            ours = model(**batch).logits
            bare = bare_language(inputs_embeds=embeds, attention_mask=mask, position_ids=positions).logits
            hidden = bare_vision(pixel_values=batch["pixel_values"], output_hidden_states=True).hidden_states
            assert torch.equal(model.visual_tokens(batch["pixel_values"]), model.visual(hidden))
        assert torch.equal(ours, bare)


def test_router_weights_sum_to_one_and_follow_the_modality_token(built, data):
    # prompts of different lengths, left-padded: the modality token is not at position 0 in every row
    data = [dataclasses.replace(s, prompt=s.prompt.replace("what is", "what " * i + "is")) for i, s in enumerate(data)]
    batch = batch_of(built, data, prompts=True)
    has_image = [s.media is not None for s in data]
    assert has_image == [True, False, True, False]
    positions = (batch["input_ids"] == built.processor.modality_id).long().argmax(1)
    assert positions.tolist() != [0, 0, 0, 0]
    built.model.eval()
    with torch.no_grad():
        built.model(**batch)
    lm_adapters = [m for n, m in built.model.language.named_modules() if isinstance(m, RouterAdapter)]
    for adapter in lm_adapters:
        w = built.model.routing.cache[id(adapter)]
        assert torch.allclose(w.sum(-1), torch.ones(4))
        assert torch.allclose(w[0], w[2]) and torch.allclose(w[1], w[3])  # same modality, same weights
        assert not torch.allclose(w[0], w[1], atol=1e-6)  # image and no-image tokens route differently
    # the weights come from the modality token's position, not from x[:, 0] (a pad token in rows 1 and 3)
    adapter = lm_adapters[0]
    route = built.model.routing.cache[id(adapter)]
    embeds, mask, _ = built.model.inputs(batch["input_ids"], batch["attention_mask"], batch.get("pixel_values"))
    assert torch.allclose(route, adapter.weights(built.model.language.model.layers[0].input_layernorm.norm(
        embeds[torch.arange(4), positions])))


def test_only_adapters_and_visual_mlp_train(built, data):
    model = built.model
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == set(model.trainable_parameters())
    assert all(n.startswith(("modality.", "visual.")) or ".adapter." in n for n in trainable)
    assert any(n.startswith("visual.mlp") for n in trainable) and "modality.weight" in trainable
    assert any(n.startswith("vision.") for n in trainable) and any(n.startswith("language.") for n in trainable)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    batch = batch_of(built, data)
    model.train()
    for _ in range(3):
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    for name, param in model.named_parameters():
        changed = not torch.equal(before[name], param.detach())
        assert changed == (name in trainable), name


def test_generation_routes_decoding_steps_with_the_prompts_weights(built, data):
    batch = batch_of(built, data, prompts=True)
    out = built.model.generate(**batch, max_new_tokens=4, do_sample=False)
    assert out.shape[0] == 4
    # a forward over prompt + generated tokens gives the same next-token choices (cached routing == full)
    full = torch.cat([batch["input_ids"], out[:, :-1]], 1)
    attention = torch.cat([batch["attention_mask"], torch.ones_like(out[:, :-1])], 1)
    with torch.no_grad():
        logits = built.model(full, attention, batch.get("pixel_values")).logits
    width = batch["input_ids"].shape[1]
    assert not torch.isin(out, torch.tensor([built.model.modality_token_id, built.model.image_token_id])).any()
    logits[..., [built.model.modality_token_id, built.model.image_token_id]] = float("-inf")  # never generated
    assert torch.equal(logits[:, width - 1:].argmax(-1), out)


def test_saved_model_reloads_with_equal_logits(built, data, tmp_path):
    cfg = AdapterModelConfig.model_validate(tiny_model())
    with torch.no_grad():
        for p in built.model.trainable_parameters().values():
            p.add_(torch.randn_like(p) * 0.1)  # not the zero-initialised state
    save(built, cfg, tmp_path)
    again = load(tmp_path)
    batch = batch_of(built, data)
    built.model.eval()
    again.model.eval()
    with torch.no_grad():
        assert torch.equal(built.model(**batch).logits, again.model(**batch).logits)
    assert isinstance(again.model, AdapterVLM) and again.info["visual_tokens"] == 2


def test_no_token_attends_to_the_modality_token(data):
    torch.manual_seed(0)
    cfg = AdapterModelConfig.model_validate(tiny_model())
    tokenizer = build_tokenizer(cfg, [t for s in data for t in (s.prompt, s.target)])
    vision, language = build_vision(cfg), build_language(cfg, tokenizer)
    bare = copy.deepcopy(language)
    model = assemble(cfg, vision, language, tokenizer, 0.0).eval()
    from plait.models.adapter.processor import AdapterProcessor

    processor = AdapterProcessor(tokenizer, None, 2)
    text_only = [s for s in data if s.media is None]
    batch = processor.collate([processor.encode_train(s) for s in text_only])
    batch.pop("labels")
    with torch.no_grad():
        with_token = model(**batch).logits[:, 1:]
        embeds = bare.get_input_embeddings()(batch["input_ids"][:, 1:])
        without = bare(inputs_embeds=embeds, attention_mask=batch["attention_mask"][:, 1:]).logits
    assert torch.allclose(with_token, without, atol=1e-6)  # the rest of the sequence never sees it
