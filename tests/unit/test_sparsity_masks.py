"""train.sparsity: which weights are covered, exact non-zero counts (uniform and ERK), magnitude masks."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError
from torch import nn
from transformers import LlamaConfig, LlamaForCausalLM

from plait.train.sparsity.config import SparsityConfig, drop_fraction_at, is_update_step
from plait.train.sparsity.masks import MaskSet, _erk_densities, covered_parameters, keep_counts, magnitude_mask, measure


def tiny_llama() -> LlamaForCausalLM:
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=50, hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
                      num_key_value_heads=2, tie_word_embeddings=True)
    return LlamaForCausalLM(cfg)


def test_embeddings_norms_and_biases_are_left_out_by_default():
    model = tiny_llama()
    covered = covered_parameters(model, ["*"], [], embeddings=False, norms=False)
    assert covered and all(n.endswith("proj.weight") for n in covered)  # q/k/v/o and the MLP's gate/up/down
    assert len(covered) == 2 * 7
    with_all = covered_parameters(model, ["*"], [], embeddings=True, norms=True)
    extra = set(with_all) - set(covered)
    # the output layer is tied to the embedding: covered once, under the embedding's name
    assert "model.embed_tokens.weight" in extra and "lm_head.weight" not in with_all
    assert {n for n in extra if "norm" in n} == {"model.norm.weight", *(f"model.layers.{i}.{k}.weight" for i in range(2)
                                                 for k in ("input_layernorm", "post_attention_layernorm"))}


def test_include_and_exclude_patterns():
    model = tiny_llama()
    covered = covered_parameters(model, ["*.mlp.*"], ["*.down_proj.*"], False, False)
    assert sorted(covered) == sorted(f"model.layers.{i}.mlp.{k}.weight" for i in range(2) for k in ("gate_proj", "up_proj"))


def test_frozen_weights_are_not_covered():
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))
    model[0].weight.requires_grad_(False)
    assert list(covered_parameters(model, ["*"], [], False, False)) == ["1.weight"]


@pytest.mark.parametrize("distribution", ["uniform", "erk"])
@pytest.mark.parametrize("target", [0.5, 0.8, 0.93])
def test_keep_counts_are_exact(distribution, target):
    shapes = {"a": (16, 16), "b": (32, 16), "c": (7, 3), "d": (100, 5)}
    counts = keep_counts(shapes, target, distribution)
    total = sum(math.prod(s) for s in shapes.values())
    assert sum(counts.values()) == round((1 - target) * total)
    assert all(0 <= counts[n] <= math.prod(s) for n, s in shapes.items())
    if distribution == "uniform":
        assert all(abs(counts[n] - (1 - target) * math.prod(s)) < 1 for n, s in shapes.items())


def test_erk_gives_thin_layers_more_density_and_caps_at_one():
    shapes = {"wide": (256, 256), "thin": (256, 16), "tiny": (3, 2)}
    density = _erk_densities(shapes, 0.05)
    assert density["tiny"] == 1.0  # would pass 1: dense
    assert density["thin"] > density["wide"]
    # eps solved so the total is exactly the target density
    numel = {n: math.prod(s) for n, s in shapes.items()}
    assert sum(density[n] * numel[n] for n in shapes) == pytest.approx(0.05 * sum(numel.values()))
    # below the cap ERK's density is eps * sum(shape) / prod(shape)
    ratio = density["thin"] / density["wide"]
    assert ratio == pytest.approx((272 / 4096) / (512 / 65536))


def test_magnitude_mask_keeps_the_largest():
    weight = torch.tensor([[0.1, -3.0, 0.2], [2.0, -0.05, 1.0]])
    assert magnitude_mask(weight, 3).tolist() == [[False, True, False], [True, False, True]]


def test_mask_apply_zeroes_and_measure_counts_zeros():
    model = nn.Sequential(nn.Linear(10, 10), nn.Linear(10, 2))
    params = covered_parameters(model, ["*"], [], False, False)
    masks = MaskSet.by_magnitude(params, keep_counts({n: tuple(p.shape) for n, p in params.items()}, 0.75, "uniform"))
    masks.apply()
    assert masks.counts() == {"0.weight": 25, "1.weight": 5}
    values = measure(model, list(params))
    assert values["covered"] == pytest.approx(90 / 120)
    assert values["overall"] == pytest.approx(90 / (120 + 12))  # the biases stayed dense
    assert values["modules"] == {"0.weight": 0.75, "1.weight": 0.75}


def test_config_checks():
    cfg = SparsityConfig(target=0.8, method="rigl", update_every=10, stop_at=0.5, drop_fraction=0.4)
    assert drop_fraction_at(0, 100, cfg) == pytest.approx(0.4)
    assert drop_fraction_at(25, 100, cfg) == pytest.approx(0.2)
    assert drop_fraction_at(50, 100, cfg) == pytest.approx(0.0, abs=1e-12)
    assert drop_fraction_at(51, 100, cfg) == 0.0
    assert [s for s in range(1, 101) if is_update_step(s, 100, cfg)] == [10, 20, 30, 40]
    assert not is_update_step(10, 100, SparsityConfig(target=0.5))
    with pytest.raises(ValidationError, match="update_every: only used with method: rigl"):
        SparsityConfig(target=0.5, update_every=5)
    with pytest.raises(ValidationError, match="target"):
        SparsityConfig(target=1.0)
    with pytest.raises(ValidationError, match="distribution"):
        SparsityConfig(target=0.5, distribution="random")
