"""Flamingo modules: gates at zero leave the LM exact; images reach only the tokens after them, latest image only."""

from __future__ import annotations

import pytest
import torch

from plait.models.flamingo.cross_attention import media_index
from plait.models.flamingo.model import FlamingoLayer, cross_attention_positions, decoder_layers
from tests.flamingo_tiny import IMAGE, tiny_flamingo

IDS = torch.tensor([[1, 5, 6, IMAGE, 7, 8, 9, IMAGE, 10, 11, 12], [1, 13, IMAGE, 14, 15, IMAGE, 16, 17, 18, 19, 20]])
FIRST = {0: 3, 1: 2}  # row -> position of its first <image>
SECOND = {0: 7, 1: 5}


def pixels(seed: int, images: int = 2) -> torch.Tensor:
    return torch.randn(2, images, 3, 16, 16, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("kind", ["opt", "gpt2", "llama"])
def test_gates_at_zero_give_exactly_the_lms_logits(kind: str) -> None:
    model, bare = tiny_flamingo(kind)
    with torch.no_grad():
        ours = model(IDS, pixel_values=pixels(1)).logits
        theirs = bare(input_ids=IDS).logits
    assert torch.equal(ours, theirs)
    assert all(isinstance(layer, FlamingoLayer) for layer in decoder_layers(model.language))
    assert type(model.language) is type(bare)  # wrapped layers, never a patched class


@pytest.mark.parametrize("kind", ["opt", "gpt2", "llama"])
def test_open_gates_leave_tokens_before_the_first_image_unchanged(kind: str) -> None:
    model, bare = tiny_flamingo(kind, gate=1.0)
    with torch.no_grad():
        ours = model(IDS, pixel_values=pixels(1)).logits
        theirs = bare(input_ids=IDS).logits
    for row, first in FIRST.items():
        assert torch.equal(ours[row, :first], theirs[row, :first])
        assert not torch.allclose(ours[row, first:], theirs[row, first:])


def test_a_token_sees_only_the_latest_image_before_it() -> None:
    model, _ = tiny_flamingo("opt", gate=1.0)
    base, other_second = pixels(1), pixels(1).clone()
    other_second[:, 1] = pixels(2)[:, 1]
    other_first = pixels(1).clone()
    other_first[:, 0] = pixels(3)[:, 0]
    with torch.no_grad():
        ref = model(IDS, pixel_values=base).logits
        new_second = model(IDS, pixel_values=other_second).logits
        new_first = model(IDS, pixel_values=other_first).logits
    for row in (0, 1):
        # changing image 2 changes nothing before its marker and everything from it on
        assert torch.equal(ref[row, :SECOND[row]], new_second[row, :SECOND[row]])
        assert not torch.allclose(ref[row, SECOND[row]:], new_second[row, SECOND[row]:])
        # changing image 1 changes tokens between the markers (and later ones only through self-attention)
        assert not torch.allclose(ref[row, FIRST[row]:SECOND[row]], new_first[row, FIRST[row]:SECOND[row]])


def test_a_one_layer_lm_sees_no_earlier_image_at_all() -> None:
    """With the block only before the last decoder layer, nothing mixes image 1 into tokens after image 2."""
    model, _ = tiny_flamingo("opt", gate=1.0)
    model_every2, _ = tiny_flamingo("opt", every=2, gate=1.0)
    assert len(model.cross_attention) == 2 and len(model_every2.cross_attention) == 1
    other_first = pixels(1).clone()
    other_first[:, 0] = pixels(3)[:, 0]
    # only_latest_image at the block: its output at tokens after image 2 ignores image 1 exactly
    block = model.cross_attention[0]
    hidden = torch.randn(2, IDS.shape[1], 16)
    with torch.no_grad():
        a = block(hidden, model.encode_images(pixels(1)), media_index(IDS, IMAGE))
        b = block(hidden, model.encode_images(other_first), media_index(IDS, IMAGE))
    for row in (0, 1):
        assert torch.equal(a[row, SECOND[row]:], b[row, SECOND[row]:])
        assert not torch.allclose(a[row, FIRST[row]:SECOND[row]], b[row, FIRST[row]:SECOND[row]])


def test_every_image_mode_sees_earlier_images() -> None:
    model, _ = tiny_flamingo("opt", gate=1.0, only_latest_image=False)
    block = model.cross_attention[0]
    hidden = torch.randn(2, IDS.shape[1], 16)
    other_first = pixels(1).clone()
    other_first[:, 0] = pixels(3)[:, 0]
    with torch.no_grad():
        a = block(hidden, model.encode_images(pixels(1)), media_index(IDS, IMAGE))
        b = block(hidden, model.encode_images(other_first), media_index(IDS, IMAGE))
    assert not torch.allclose(a[0, SECOND[0]:], b[0, SECOND[0]:])


def test_positions_follow_babylm_and_open_flamingo_rules() -> None:
    assert cross_attention_positions(12, 2, "first") == [0, 2, 4, 6, 8, 10]
    assert cross_attention_positions(12, 2, "last") == [1, 3, 5, 7, 9, 11]
    assert cross_attention_positions(4, 1, "last") == [0, 1, 2, 3]


def test_text_only_batch_is_the_lm_and_trains() -> None:
    model, bare = tiny_flamingo("llama", gate=1.0)
    labels = IDS.masked_fill(IDS == IMAGE, -100)
    out = model(IDS, labels=labels)
    assert torch.equal(out.logits, bare(input_ids=IDS).logits)
    out.loss.backward()
    assert model.language.get_input_embeddings().weight.grad is not None


def test_gradients_reach_gates_resampler_not_the_frozen_encoder() -> None:
    model, _ = tiny_flamingo("gpt2")
    for p in model.vision.parameters():
        p.requires_grad_(False)
    model.train()
    model(IDS, pixel_values=pixels(1), labels=IDS).loss.backward()
    gate = model.cross_attention[0].gates[0]
    assert gate.grad is not None and gate.grad.abs().sum() > 0  # at gate 0 only the gate gets a gradient
    assert all(p.grad is None for p in model.vision.parameters())


@pytest.mark.parametrize("kind", ["opt", "llama"])
def test_cached_generation_matches_the_full_forward(kind: str) -> None:
    model, _ = tiny_flamingo(kind, gate=1.0)
    prompt = IDS[:, :9]
    attention = torch.ones_like(prompt)
    with torch.no_grad():
        new = model.generate(prompt, attention, pixel_values=pixels(1), max_new_tokens=3, do_sample=False)
        full = torch.cat([prompt, new], 1)
        logits = model(full, pixel_values=pixels(1)).logits
    assert new.shape == (2, 3)
    assert torch.equal(logits[:, prompt.shape[1] - 1:-1].argmax(-1), new)
