"""Config sections shared by model families: pretrained-or-config components, tokenizers."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from plait.core.strict import Strict


class Component(Strict):
    """A transformers model loaded from a checkpoint or built, randomly initialised, from a config."""

    role: ClassVar[str] = ""
    """What the family uses it as, checked against transformers before any build (plait.models.preflight):
    "vision" (a model reading pixel_values), "causal_lm" (one with a causal LM head), or "" (anything)."""
    pretrained: str | None = None
    """Checkpoint name or local folder to load weights from."""
    config: dict[str, Any] | None = None
    """A transformers config as a mapping with `model_type`, for a randomly initialised model."""
    freeze: bool = False
    """Keep this component's weights fixed during training."""

    @model_validator(mode="after")
    def _one_source(self) -> "Component":
        if (self.pretrained is None) == (self.config is None):
            raise ValueError("set exactly one of `pretrained` (a checkpoint) or `config` (a mapping with model_type)")
        if self.config is not None and "model_type" not in self.config:
            raise ValueError("`config` needs a `model_type` key, e.g. model_type: llama")
        return self


def hidden_state_problem(config: dict[str, Any] | None, layer: int) -> str | None:
    """Why `layer` is no index into the hidden states (embeddings, then each layer's output) of an encoder built
    from `config` (CLIP's full config: its vision_config); None when it is one, or the layer count is unknown."""
    section = (config or {}).get("vision_config", config or {})
    layers = section.get("num_hidden_layers") if isinstance(section, dict) else None
    if isinstance(layers, int) and not -(layers + 1) <= layer <= layers:
        return (f"layer: {layer} is not a hidden-states index of a {layers}-layer encoder "
                f"(valid: -{layers + 1} to {layers}, -1 = the last layer)")
    return None


class TrainedTokenizer(Strict):
    """A tokenizer trained on the training texts with `tokenizers`, saved with the model."""

    kind: Literal["wordlevel", "bpe"] = "wordlevel"
    """wordlevel: one token per word (with its preceding space) and per punctuation mark; bpe: byte-level BPE.
    Both give every text they have the words of back exactly: case, punctuation and spacing."""
    vocab_size: int = Field(1000, ge=16, le=1_000_000)
    """Upper bound on the vocabulary size, special tokens included."""
    lowercase: bool = False
    """Lowercase texts before tokenizing (generated text then comes back lowercased)."""


class TokenizerConfig(Strict):
    """Where the tokenizer comes from."""

    pretrained: str | None = None
    """Checkpoint name or folder; defaults to the language model's checkpoint."""
    train: TrainedTokenizer | None = None
    """Train a tokenizer on the training texts (for language models built from a config)."""
