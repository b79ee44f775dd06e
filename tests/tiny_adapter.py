"""A tiny adapter-family model config (random CLIP vision tower and Llama LM) and samples with and without images."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from plait.data.sample import Sample

VISION = {"model_type": "clip_vision_model", "image_size": 16, "patch_size": 8, "hidden_size": 32,
          "intermediate_size": 64, "num_hidden_layers": 4, "num_attention_heads": 2}
LANGUAGE = {"model_type": "llama", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 3,
            "num_attention_heads": 4, "num_key_value_heads": 4, "max_position_embeddings": 128}


def tiny_model(**adapter: Any) -> dict[str, Any]:
    """The model section: 4 vision layers read every 2 (2 visual tokens), 3 LM layers, a word-level tokenizer."""
    return {"family": "adapter", "vision": {"config": dict(VISION), "every": 2, "hidden": 16},
            "language": {"config": dict(LANGUAGE)}, "tokenizer": {"train": {"kind": "wordlevel", "vocab_size": 100}},
            "adapter": {"dim": 8, "temperature": 10.0, "dropout": 0.0, **adapter}}


def samples(folder: Path) -> list[Sample]:
    """Four samples, two with an image."""
    out = []
    for i, color in enumerate([(200, 30, 30), None, (30, 30, 200), None]):
        media = None
        if color is not None:
            media = folder / f"img{i}.png"
            Image.new("RGB", (16, 16), color).save(media)
        out.append(Sample(id=str(i), prompt=f"Question: what is item {i} ?\nResponse:",
                          target=f"The answer is {'AB'[i % 2]}.", media=media))
    return out
