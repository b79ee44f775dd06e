"""Config of the git family: transformers' GitForCausalLM, its image encoder kept or replaced (e.g. a DINO ViT)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import model_validator

from plait.core.strict import Strict
from plait.models.components.config import Component, TokenizerConfig
from plait.models.config import PartsConfig, tokenizer_problem


class GitVisionConfig(Strict):
    """The image encoder: GIT's own (from the language section's checkpoint or config), or any transformers vision
    model put in its place, with the projection (linear + layer norm) re-initialised to its width."""

    role: ClassVar[str] = "vision"
    """A replacement must read pixel_values (checked by plait.models.preflight)."""

    pretrained: str | None = None
    """Checkpoint of a replacement encoder (e.g. a DINO ViT); unset with `config` unset = GIT's own encoder."""
    config: dict[str, Any] | None = None
    """A transformers config mapping (with model_type) for a randomly initialised replacement encoder."""
    freeze: bool = True
    """Keep the encoder's weights fixed (BabyLM freezes its DINO ViT)."""
    processor: str | None = None
    """Image processor checkpoint; defaults to the encoder's (or GIT's) checkpoint, or CLIP's at the encoder's image_size."""

    @model_validator(mode="after")
    def _one_source(self) -> "GitVisionConfig":
        if self.pretrained is not None and self.config is not None:
            raise ValueError("set at most one of `pretrained` or `config` (neither = GIT's own image encoder)")
        if self.config is not None and "model_type" not in self.config:
            raise ValueError("`config` needs a `model_type` key, e.g. model_type: vit")
        return self

    @property
    def replaced(self) -> bool:
        """Whether another encoder takes the place of GIT's own."""
        return self.pretrained is not None or self.config is not None


class ProjectionConfig(Strict):
    """GIT's visual projection (linear + layer norm, and the per-frame embeddings of multi-frame inputs)."""

    freeze: bool = False
    """Keep the projection's weights fixed."""


class GitLanguageConfig(Component):
    """The GIT model (text decoder, and its image encoder unless `vision` replaces it): a checkpoint or a GitConfig."""

    @model_validator(mode="after")
    def _git(self) -> "GitLanguageConfig":
        if self.config is not None and self.config["model_type"] != "git":
            raise ValueError(f"config.model_type: the git family builds GitForCausalLM, so model_type must be git, "
                             f"not {self.config['model_type']!r}")
        return self


class GitModelConfig(PartsConfig):
    """GIT: image tokens (bidirectional among themselves) placed before the text, which is causal and sees them all."""

    family: Literal["git"] = "git"
    """Model family (the discriminator)."""
    PARTS: ClassVar[tuple[str, ...]] = ("vision", "projection", "language")
    """The parameter groups training stages may name (each a field with `freeze`)."""
    vision: GitVisionConfig = GitVisionConfig()
    """Image encoder."""
    projection: ProjectionConfig = ProjectionConfig()
    """Visual projection."""
    language: GitLanguageConfig
    """The GIT model."""
    tokenizer: TokenizerConfig = TokenizerConfig()
    """Tokenizer."""

    @model_validator(mode="after")
    def _checks(self) -> "GitModelConfig":
        if problem := tokenizer_problem(self.tokenizer, self.language.pretrained, "a GIT model"):
            raise ValueError(problem)
        if not self.default_trainable():
            raise ValueError("every part is frozen: nothing would train")
        return self
