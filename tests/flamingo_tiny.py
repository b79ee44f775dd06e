"""Tiny flamingo models for tests: any of three causal LMs wrapped, random weights, no tokenizer needed."""

from __future__ import annotations

import copy
from functools import partial

import torch
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

from plait.models.flamingo.cross_attention import GatedCrossAttention
from plait.models.flamingo.model import FlamingoVLM, cross_attention_positions
from plait.models.flamingo.resampler import Resampler

VOCAB, IMAGE = 40, 39
LMS = {
    "opt": {"model_type": "opt", "hidden_size": 16, "ffn_dim": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
            "word_embed_proj_dim": 16, "max_position_embeddings": 64, "dropout": 0.0},
    "gpt2": {"model_type": "gpt2", "n_embd": 16, "n_layer": 2, "n_head": 2, "n_positions": 64},
    "llama": {"model_type": "llama", "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 2,
              "num_attention_heads": 2, "num_key_value_heads": 2, "max_position_embeddings": 64},
}
VISION = {"model_type": "clip_vision_model", "image_size": 16, "patch_size": 8, "hidden_size": 12,
          "intermediate_size": 24, "num_hidden_layers": 1, "num_attention_heads": 2}


def tiny_lm(kind: str) -> torch.nn.Module:
    values = dict(LMS[kind], vocab_size=VOCAB, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    return AutoModelForCausalLM.from_config(AutoConfig.for_model(values.pop("model_type"), **values)).eval()


def tiny_flamingo(kind: str = "opt", every: int = 1, gate: float | None = None,
                  only_latest_image: bool = True) -> tuple[FlamingoVLM, torch.nn.Module]:
    """(flamingo, an unwrapped copy of its LM); gate sets every tanh gate's pre-activation (None = 0, as built)."""
    torch.manual_seed(0)
    language = tiny_lm(kind)
    bare = copy.deepcopy(language)
    values = dict(VISION)
    vision = AutoModel.from_config(AutoConfig.for_model(values.pop("model_type"), **values))
    make_block = partial(GatedCrossAttention, 16, 12, 2, 2, 0.0, only_latest_image)
    model = FlamingoVLM(vision, Resampler(12, 1, 2, 6, 3), language, IMAGE, make_block,
                        cross_attention_positions(2, every, "first"))
    if gate is not None:
        with torch.no_grad():
            for block in model.cross_attention:
                for g in block.gates:
                    g.fill_(gate)
    return model.eval(), bare
