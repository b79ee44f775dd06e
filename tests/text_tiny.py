"""Tiny text models and experiments for the text-family and GLUE tests (built from configs, nothing downloaded)."""

from __future__ import annotations

import copy
from typing import Any

from plait.data.sample import Sample

BERT = {"model_type": "bert", "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
        "intermediate_size": 32, "max_position_embeddings": 64}
GPT2 = {"model_type": "gpt2", "n_embd": 16, "n_layer": 1, "n_head": 2, "n_positions": 64}
WORDS = "the cat dog bird sees likes a red big small happy sad park home runs jumps".split()


def corpus(n: int = 40, seed: int = 0) -> list[Sample]:
    """Short sentences over a small vocabulary."""
    import random

    rng = random.Random(seed)
    return [Sample(id=str(i), prompt="", target=" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 12))))
            for i in range(n)]


def text_model(task: str = "masked_lm", config: dict[str, Any] | None = None, **keys: Any) -> dict[str, Any]:
    """A text model section for a tiny randomly initialised model with a word-level tokenizer."""
    base = GPT2 if task == "causal_lm" else BERT
    return {"family": "text", "task": task, "config": copy.deepcopy(config or base),
            "tokenizer": {"train": {"kind": "wordlevel", "vocab_size": 100}}, "max_length": 48, **keys}


def pretrain_experiment(name: str = "tiny-mlm") -> dict[str, Any]:
    """A few steps of masked-LM pretraining on a small built-in corpus."""
    return {"name": name, "seed": 0, "model": text_model("masked_lm"),
            "data": {"source": {"kind": "builtin_text", "sentences": 200, "block_size": 16}},
            "train": {"max_steps": 4, "batch_size": 8, "lr": 1e-3, "log_every": 2},
            "eval": {"task": "perplexity", "splits": ["validation"]}}
