"""A tiny BabyLM-style mix for tests: built-in captions (CC-3M format) + their text-only corpus, flamingo or git."""

from __future__ import annotations

import copy
from typing import Any

from tests.tiny_families import FLAMINGO
from tests.integration.test_git_run import GIT

CAPTIONS = {"kind": "builtin_captions", "part": "captions", "train_size": 24, "validation_size": 4, "test_size": 4,
            "image_size": 16}
TEXT = {"kind": "builtin_captions", "part": "text", "train_size": 40, "validation_size": 4, "test_size": 4}
NO_DROPOUT = {"dropout": 0.0, "attention_dropout": 0.0}


def mix_updates(family: str = "flamingo", mode: str = "paired", text_weight: float = 0.25) -> dict[str, Any]:
    model = copy.deepcopy(FLAMINGO if family == "flamingo" else GIT)
    if family == "flamingo":
        model["language"]["config"].update(NO_DROPOUT)
    else:
        model["language"]["config"].update({"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0})
    return {
        "model": model,
        "data": {"mix": {"mode": mode, "sources": [{"name": "captions", "source": CAPTIONS, "weight": 1.0},
                                                   {"name": "text", "source": TEXT, "weight": text_weight}]}},
        "train.max_steps": 4, "train.batch_size": 4, "train.log_every": 1, "train.lr": 3e-3,
        "eval.metrics": ["bleu", "chrf"],
    }
