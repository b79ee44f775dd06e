"""Config of the projector family (LLaVA-style): vision encoder -> projector -> causal LM."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from plait.config.base import Strict
from plait.models.components.config import Component, TokenizerConfig


class VisionConfig(Component):
    """The vision encoder: any transformers vision model (CLIP, SigLIP...)."""

    freeze: bool = True
    """Keep the encoder's weights fixed during training."""
    feature: Literal["patch", "pooled"] = "patch"
    """patch: one token per patch from `layer`; pooled: one token, the pooled (and projected, for CLIP) embedding."""
    layer: int = -2
    """Hidden-states index the patch features come from (-1 = last layer, -2 = the one before, as LLaVA)."""
    drop_cls: bool = False
    """Drop the first (class) token from patch features."""
    processor: str | None = None
    """Image processor checkpoint; defaults to `pretrained`, or to CLIP's normalisation at the config's image_size."""


class ProjectorConfig(Strict):
    """The projector from image features to the language model's embedding space."""

    kind: Literal["mlp", "linear"] = "mlp"
    """mlp: `layers` linear layers with `activation` between them; linear: a single linear layer."""
    layers: int = Field(2, ge=1, le=8)
    """Number of linear layers of an mlp projector."""
    activation: Literal["gelu", "relu", "silu", "tanh"] = "gelu"
    """Activation between the mlp's layers."""
    freeze: bool = False
    """Keep the projector's weights fixed during training."""


class LanguageConfig(Component):
    """The causal language model: any transformers causal LM (Llama, Phi-3, Qwen2, GPT-2...)."""


class ProjectorModelConfig(Strict):
    """A LLaVA-style model: image features are projected into the LM's input embeddings."""

    family: Literal["projector"] = "projector"
    """Model family (the discriminator)."""
    vision: VisionConfig
    """Vision encoder."""
    projector: ProjectorConfig = ProjectorConfig()
    """Projector."""
    language: LanguageConfig
    """Language model."""
    tokenizer: TokenizerConfig = TokenizerConfig()
    """Tokenizer."""
    placement: Literal["placeholder", "between"] = "placeholder"
    """placeholder: image tokens replace `<image>` in the prompt (prepended if absent); between: prefix + image + suffix + prompt."""
    prefix: str = ""
    """Text before the image, with placement: between."""
    suffix: str = ""
    """Text after the image and before the prompt, with placement: between."""
    image_token: str = "<image>"
    """The placeholder token for the image."""

    @model_validator(mode="after")
    def _tokenizer_source(self) -> "ProjectorModelConfig":
        tok = self.tokenizer
        if tok.pretrained is None and tok.train is None and self.language.pretrained is None:
            raise ValueError(
                "tokenizer: a language model built from a config needs `tokenizer.train` "
                "(e.g. {kind: wordlevel}) or `tokenizer.pretrained`"
            )
        if self.placement == "placeholder" and (self.prefix or self.suffix):
            raise ValueError("prefix/suffix are used only with placement: between")
        return self
