"""Config of the projector family (LLaVA-style): vision encoder -> projector -> causal LM."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from plait.core.strict import Strict
from plait.models.components.config import Component, TokenizerConfig, hidden_state_problem
from plait.models.config import FamilyConfig, config_differences, tokenizer_problem


class LoraSpec(Strict):
    """A LoRA adapter (peft) on chosen linear layers of a component; the base weights stay fixed."""

    r: int = Field(16, ge=1)
    """Rank of the low-rank update."""
    alpha: float = Field(32.0, gt=0)
    """Scaling numerator: the update is scaled by alpha / r."""
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    """Dropout on the adapter's input."""
    target_modules: list[str] | Literal["all-linear"] = "all-linear"
    """Names of the linear layers to adapt (e.g. [q_proj, v_proj]), or all-linear (every linear layer but the output head)."""

    @model_validator(mode="after")
    def _some_targets(self) -> "LoraSpec":
        if isinstance(self.target_modules, list) and not self.target_modules:
            raise ValueError("target_modules: give at least one layer name, or all-linear")
        return self


class QuantizationSpec(Strict):
    """Load the checkpoint's linear layers in 4 bits with bitsandbytes (QLoRA); the output head stays full precision."""

    bits: Literal[4] = 4
    """Bits per weight."""
    quant_type: Literal["nf4", "fp4"] = "nf4"
    """nf4: normal-float 4-bit (QLoRA's); fp4: plain 4-bit float."""
    double_quant: bool = True
    """Quantize the quantization constants too (saves about 0.4 bits per weight)."""
    compute_dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    """Dtype the 4-bit weights are dequantized to for matrix products."""


class VisionConfig(Component):
    """The vision encoder: any transformers vision model (CLIP, SigLIP...)."""

    role: ClassVar[str] = "vision"

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

    @model_validator(mode="after")
    def _layer_exists(self) -> "VisionConfig":
        if problem := hidden_state_problem(self.config, self.layer):
            raise ValueError(problem)
        return self
    cache_features: bool | Literal["auto"] = "auto"
    """Compute the frozen encoder's outputs once, store them on disk under $PLAIT_CACHE/features (keyed by the
    encoder's weights, these feature settings and each image's bytes) and read them back in later epochs and runs.
    auto: only when that cannot change training (frozen encoder, no LoRA, no dropout) and when it pays: the run
    times a probe batch and caches when the encoder time saved over its epochs beats filling the missing entries
    (decision in status.json's feature_cache; a resume keeps it); true: require it; false: off."""
    lora: LoraSpec | None = None
    """Train a LoRA adapter instead of the encoder's weights (the base stays fixed; `freeze` is then ignored)."""


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

    role: ClassVar[str] = "causal_lm"

    lora: LoraSpec | None = None
    """Train a LoRA adapter instead of the model's weights (the base stays fixed; `freeze` is then ignored)."""
    quantization: QuantizationSpec | None = None
    """Load the checkpoint in 4 bits (needs `pretrained`, and `lora` or `freeze: true`: 4-bit weights do not train)."""

    @model_validator(mode="after")
    def _quantized_needs_checkpoint(self) -> "LanguageConfig":
        if self.quantization is None:
            return self
        if self.pretrained is None:
            raise ValueError("quantization: 4-bit loading quantizes a checkpoint's weights; set `pretrained` "
                             "(a checkpoint name or local folder) instead of `config`")
        if self.lora is None and not self.freeze:
            raise ValueError("quantization: 4-bit weights cannot be trained in full; add `lora` or set `freeze: true`")
        return self


class ProjectorModelConfig(FamilyConfig):
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
    save_merged: bool = False
    """Also write the model with its LoRA adapters merged, as `plait export --merge` does, to the run's model/merged/."""

    def default_trainable(self) -> list[str]:
        """The parts trained when the experiment has no stages: everything not frozen."""
        parts = []
        if not self.vision.freeze and self.vision.lora is None:
            parts.append("vision")
        if not self.projector.freeze:
            parts.append("projector")
        if not self.language.freeze and self.language.lora is None:
            parts.append("language")
        if self.vision.lora is not None or self.language.lora is not None:
            parts.append("lora")
        return parts

    def media_token(self) -> str:
        return self.image_token

    def text_model(self) -> tuple[str, Any, Any]:
        return "model.language", self.language, self.tokenizer

    def trainable_problems(self, parts: list[str], groups: tuple[str, ...]) -> list[str]:
        """Why a stage cannot train `parts` (vision, projector, language, lora), or nothing."""
        problems = super().trainable_problems(parts, groups)
        for name, component in (("vision", self.vision), ("language", self.language)):
            if name in parts and component.lora is not None:
                problems.append(f"`{name}` has a LoRA adapter, so its base weights stay fixed; train `lora` instead")
            elif name in parts and component.freeze:
                problems.append(f"`{name}` is frozen (model.{name}.freeze: true); set freeze: false to train it in a stage")
        if "projector" in parts and self.projector.freeze:
            problems.append("`projector` is frozen (model.projector.freeze: true)")
        if "lora" in parts and self.vision.lora is None and self.language.lora is None:
            problems.append("`lora` needs model.language.lora or model.vision.lora")
        return problems

    def differences_from(self, saved: FamilyConfig) -> list[str]:
        """Fields (model.x.y) where this model is not `saved`'s, ignoring what continued training may change:
        freezing, LoRA dropout, the tokenizer section (the saved tokenizer is used) and adapters `saved` lacks."""
        def shape(cfg: ProjectorModelConfig) -> dict[str, Any]:
            out = cfg.model_dump(mode="json", exclude={"tokenizer", "save_merged"})
            for name in ("vision", "projector", "language"):
                out[name].pop("freeze")
                if out[name].get("lora"):
                    out[name]["lora"].pop("dropout")
            return out

        mine, theirs = shape(self), shape(saved)
        for name in ("vision", "language"):
            if getattr(saved, name).lora is None:  # a new adapter starts from zero on the loaded weights
                mine[name]["lora"] = None
        return [f"model.{d}" for d in config_differences(theirs, mine)]

    @model_validator(mode="after")
    def _tokenizer_source(self) -> "ProjectorModelConfig":
        if problem := tokenizer_problem(self.tokenizer, self.language.pretrained):
            raise ValueError(problem)
        if self.placement == "placeholder" and (self.prefix or self.suffix):
            raise ValueError("prefix/suffix are used only with placement: between")
        return self

