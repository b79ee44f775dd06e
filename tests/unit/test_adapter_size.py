"""LaVIN-7B's trainable size: the adapters, modality token and visual MLP on LLaMA-7B and CLIP ViT-L/14 come to
the 3.8M parameters the LaVIN paper reports; `adapter.where: block` doubles the LM's adapters."""

from __future__ import annotations

import torch
from transformers import CLIPVisionConfig, CLIPVisionModel, LlamaConfig, LlamaForCausalLM

from plait.models.adapter.build import adapter_size
from plait.models.adapter.model import AdapterVLM


def lavin(where: str) -> AdapterVLM:
    with torch.device("meta"):
        language = LlamaForCausalLM(LlamaConfig(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                                                num_attention_heads=32, vocab_size=32000))
        vision = CLIPVisionModel(CLIPVisionConfig(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                                                  num_attention_heads=16, image_size=224, patch_size=14))
        return AdapterVLM(vision, language, 0, 1, dim=8, groups=2, language_dropout=[0.1] * 32,
                          vision_dropout=[0.1] * 24, where=where, every=4, hidden=128)


def test_lavin_7b_trains_3_8_million_parameters():
    model = lavin("attn")
    trainable = sum(p.numel() for p in model.trainable_parameters().values())
    visual = 1024 * 128 + 128 + 128 * 4096 + 4096
    assert trainable == 32 * adapter_size(4096, 8, 2) + 24 * adapter_size(1024, 8, 2) + visual + 2 * 4096
    assert trainable == 3_781_296  # LaVIN-7B: "3.8M" trainable parameters
    assert model.visual.layers(24) == [4, 8, 12, 16, 20, 24]  # n_prompt 6


def test_block_placement_adds_an_adapter_at_each_mlp_input():
    attn, block = lavin("attn"), lavin("block")
    assert len(block.adapters()) - len(attn.adapters()) == 32
    layer = block.language.model.layers[0]
    assert type(layer.post_attention_layernorm).__name__ == "AdaptedNorm"
    assert type(attn.language.model.layers[0].post_attention_layernorm).__name__ == "LlamaRMSNorm"
