"""Config of the flamingo family: vision encoder -> Perceiver resampler -> gated cross-attention in a causal LM."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from plait.core.strict import Strict
from plait.models.components.config import Component, TokenizerConfig, hidden_state_problem
from plait.models.config import PartsConfig, tokenizer_problem


class FlamingoVisionConfig(Component):
    """The vision encoder: any transformers vision model (CLIP, SigLIP, ViT/DINO...); its patch features feed the resampler."""

    role: ClassVar[str] = "vision"

    freeze: bool = True
    """Keep the encoder's weights fixed (Flamingo, OpenFlamingo and BabyLM all do); it then runs without gradients."""
    layer: int = -1
    """Hidden-states index the patch features come from (-1 = last layer)."""
    processor: str | None = None
    """Image processor checkpoint; defaults to `pretrained`, or to CLIP's normalisation at the config's image_size."""

    @model_validator(mode="after")
    def _layer_exists(self) -> "FlamingoVisionConfig":
        if problem := hidden_state_problem(self.config, self.layer):
            raise ValueError(problem)
        return self


class ResamplerConfig(Strict):
    """The Perceiver resampler: learned latents attend to the image features (keys/values: features + latents)."""

    latents: int = Field(64, ge=1)
    """Number of learned latents = visual tokens per image the language model attends to."""
    depth: int = Field(2, ge=1)
    """Attention + feed-forward blocks (BabyLM 2, OpenFlamingo 6)."""
    heads: int = Field(8, ge=1)
    """Attention heads."""
    head_dim: int = Field(64, ge=1)
    """Width of each head."""
    freeze: bool = False
    """Keep the resampler's weights fixed."""


class CrossAttentionConfig(Strict):
    """Gated cross-attention blocks (attention and feed-forward, each scaled by tanh of a gate that starts at 0)."""

    every: int = Field(2, ge=1)
    """A block before every `every`-th decoder layer (OpenFlamingo-3B 1, BabyLM 2, OpenFlamingo-9B 4)."""
    start: Literal["first", "last"] = "first"
    """first: before layers 0, every, 2*every... (BabyLM); last: before layers every-1, 2*every-1... (OpenFlamingo)."""
    heads: int = Field(8, ge=1)
    """Attention heads (must divide the language model's hidden size)."""
    ff_mult: int = Field(4, ge=1)
    """Feed-forward width as a multiple of the language model's hidden size."""
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    """Dropout on the attention and feed-forward outputs."""
    only_latest_image: bool = True
    """A text token attends only to the latest image before it (Flamingo); false: to every image before it."""
    freeze: bool = False
    """Keep the blocks' weights fixed (gates included)."""


class FlamingoLanguageConfig(Component):
    """The causal language model: any transformers causal LM (OPT, GPT-2, Llama...), trained (BabyLM) or frozen (OpenFlamingo)."""

    role: ClassVar[str] = "causal_lm"


class FlamingoModelConfig(PartsConfig):
    """A Flamingo model: each text token sees the resampled features of the latest image before it."""

    family: Literal["flamingo"] = "flamingo"
    """Model family (the discriminator)."""
    PARTS: ClassVar[tuple[str, ...]] = ("vision", "resampler", "cross_attention", "language")
    """The parameter groups training stages may name (each a field with `freeze`)."""
    vision: FlamingoVisionConfig
    """Vision encoder."""
    resampler: ResamplerConfig = ResamplerConfig()
    """Perceiver resampler."""
    cross_attention: CrossAttentionConfig = CrossAttentionConfig()
    """Gated cross-attention blocks."""
    language: FlamingoLanguageConfig
    """Language model."""
    tokenizer: TokenizerConfig = TokenizerConfig()
    """Tokenizer (`<image>` and `<|endofchunk|>` are added to it)."""
    image_token: str = Field("<image>", min_length=1)
    """Marks where an image sits in the text; prepended to a prompt that has an image but no marker."""
    end_of_chunk: str = Field("<|endofchunk|>", min_length=1)
    """Ends the text that belongs to an image (after the target of a sample with an image)."""

    def media_token(self) -> str:
        return self.image_token

    @model_validator(mode="after")
    def _checks(self) -> "FlamingoModelConfig":
        if problem := tokenizer_problem(self.tokenizer, self.language.pretrained):
            raise ValueError(problem)
        if self.image_token == self.end_of_chunk:
            raise ValueError("end_of_chunk: must differ from image_token")
        hidden = (self.language.config or {}).get("hidden_size") or (self.language.config or {}).get("n_embd")
        if hidden and hidden % self.cross_attention.heads:
            raise ValueError(f"cross_attention.heads: {self.cross_attention.heads} does not divide the language "
                             f"model's hidden size {hidden}")
        layers = (self.language.config or {}).get("num_hidden_layers") or (self.language.config or {}).get("n_layer")
        if isinstance(layers, int) and self.cross_attention.every > layers:
            raise ValueError(f"cross_attention.every: {self.cross_attention.every} is more than the language "
                             f"model's {layers} layers; at most {layers}")
        if not self.default_trainable():
            raise ValueError("every part is frozen: nothing would train")
        return self
