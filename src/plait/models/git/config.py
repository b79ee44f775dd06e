"""Config of the git family: transformers' GitForCausalLM, its image encoder kept or replaced (e.g. a DINO ViT)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import model_validator

from plait.core.strict import Strict
from plait.models.components.config import Component, TokenizerConfig
from plait.models.config import FamilyConfig

PARTS = ("vision", "projection", "language")
"""The parameter groups training stages may name."""


class GitVisionConfig(Strict):
    """The image encoder: GIT's own (from the language section's checkpoint or config), or any transformers vision
    model put in its place, with the projection (linear + layer norm) re-initialised to its width."""

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


class GitModelConfig(FamilyConfig):
    """GIT: image tokens (bidirectional among themselves) placed before the text, which is causal and sees them all."""

    family: Literal["git"] = "git"
    """Model family (the discriminator)."""
    vision: GitVisionConfig = GitVisionConfig()
    """Image encoder."""
    projection: ProjectionConfig = ProjectionConfig()
    """Visual projection."""
    language: GitLanguageConfig
    """The GIT model."""
    tokenizer: TokenizerConfig = TokenizerConfig()
    """Tokenizer."""

    def default_trainable(self) -> list[str]:
        """The parts trained when the experiment has no stages: everything not frozen."""
        return [p for p in PARTS if not getattr(self, p).freeze]

    def trainable_problems(self, parts: list[str], groups: tuple[str, ...] = PARTS) -> list[str]:
        """Why a stage cannot train `parts` (vision, projection, language), or nothing."""
        problems = super().trainable_problems(parts, groups)
        problems += [f"`{p}` is frozen (model.{p}.freeze: true); set freeze: false to train it in a stage"
                     for p in parts if p in PARTS and getattr(self, p).freeze]
        return problems

    @model_validator(mode="after")
    def _checks(self) -> "GitModelConfig":
        tok = self.tokenizer
        if tok.pretrained is None and tok.train is None and self.language.pretrained is None:
            raise ValueError("tokenizer: a GIT model built from a config needs `tokenizer.train` "
                             "(e.g. {kind: wordlevel}) or `tokenizer.pretrained`")
        if not self.default_trainable():
            raise ValueError("every part is frozen: nothing would train")
        return self
