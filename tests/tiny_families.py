"""Tiny model sections of the flamingo and GIT families (random weights from configs), shared by their tests."""

from __future__ import annotations

FLAMINGO = {
    "family": "flamingo",
    "vision": {"config": {"model_type": "clip_vision_model", "image_size": 16, "patch_size": 8, "hidden_size": 16,
                          "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2}},
    "resampler": {"latents": 4, "depth": 1, "heads": 2, "head_dim": 8},
    "cross_attention": {"every": 1, "heads": 2, "ff_mult": 2},
    "language": {"config": {"model_type": "opt", "hidden_size": 16, "ffn_dim": 32, "num_hidden_layers": 2,
                            "num_attention_heads": 2, "word_embed_proj_dim": 16, "max_position_embeddings": 64}},
    "tokenizer": {"train": {"kind": "wordlevel", "vocab_size": 100}},
}

GIT_CONFIG = {"model_type": "git", "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 2,
              "num_attention_heads": 2, "max_position_embeddings": 64,
              "vision_config": {"image_size": 16, "patch_size": 8, "hidden_size": 12, "intermediate_size": 24,
                                "num_hidden_layers": 1, "num_attention_heads": 2}}
"""GitForCausalLM's config: 2 layers of 16, its own 1-layer image encoder on 16 px images (5 image tokens)."""

GIT = {"family": "git", "language": {"config": GIT_CONFIG}, "tokenizer": {"train": {"kind": "wordlevel", "vocab_size": 100}}}
