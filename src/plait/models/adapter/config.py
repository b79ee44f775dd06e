"""Config of the adapter family (LaVIN's MMA): a frozen vision encoder and causal LM with routed adapters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, PlainSerializer, model_validator

from plait.core.strict import Strict
from plait.models.components.config import Component, TokenizerConfig
from plait.models.config import FamilyConfig, tokenizer_problem
from plait.models.projector.config import QuantizationSpec


class DropoutSchedule(Strict):
    """Adapter dropout that changes layer by layer: layer i gets prob x var^i, held at `limit` once it gets there."""

    prob: float = Field(ge=0.0, lt=1.0)
    """Dropout of the first layer's adapter."""
    limit: float = Field(ge=0.0, lt=1.0)
    """The ceiling when rising (var > 1), the floor when falling (var < 1)."""
    var: float = Field(gt=0.0)
    """Factor from one layer to the next: > 1 rises, < 1 falls, 1 keeps `prob`."""

    @model_validator(mode="after")
    def _direction(self) -> "DropoutSchedule":
        if self.var > 1 and self.limit < self.prob:
            raise ValueError(f"limit: a rising schedule (var {self.var} > 1) needs limit >= prob ({self.prob}), "
                             f"got {self.limit}")
        if self.var < 1 and self.limit > self.prob:
            raise ValueError(f"limit: a falling schedule (var {self.var} < 1) needs limit <= prob ({self.prob}), "
                             f"got {self.limit}")
        return self

    def values(self, layers: int) -> list[float]:
        """The dropout of each of `layers` adapters, first layer first (rounded to 6 decimals)."""
        bound = min if self.var >= 1 else max
        return [round(bound(self.prob * self.var ** i, self.limit), 6) for i in range(layers)]


def _as_schedule(value: Any) -> Any:
    """A number p -> the constant schedule {p, p, 1}; 'PROB:LIMIT:VAR' (a scalar, so a sweep can choose among
    schedules) -> {prob, limit, var}."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not 0.0 <= value < 1.0:  # one line for the number given, not one per field it stands for
            raise ValueError("a dropout probability must be in [0, 1)")
        return {"prob": value, "limit": value, "var": 1.0}
    if isinstance(value, str):
        try:
            prob, limit, var = (float(p) for p in value.split(":"))
        except ValueError:
            raise ValueError(f"{value!r}: write a schedule as PROB:LIMIT:VAR, e.g. 0.1:0.2:1.01") from None
        return {"prob": prob, "limit": limit, "var": var}
    return value


def _dumped(schedule: DropoutSchedule) -> float | dict[str, float]:
    """A constant schedule is written back as its number."""
    if schedule.var == 1 and schedule.limit == schedule.prob:
        return schedule.prob
    return {"prob": schedule.prob, "limit": schedule.limit, "var": schedule.var}


Dropout = Annotated[DropoutSchedule, BeforeValidator(_as_schedule), PlainSerializer(_dumped)]
"""Adapter dropout: a number for every layer, or a per-layer schedule."""


class AdapterSpec(Strict):
    """The routed RepAdapter: x + w0 B(A(x)) + w1 D(A(x)), w = softmax(router(modality) / temperature)."""

    dim: int = Field(8, ge=1)
    """Width of the down-projection A (LaVIN's adapter_dim)."""
    groups: int = Field(2, ge=1)
    """Groups of the up-projections B and D (LaVIN: 2); the LM and encoder widths must divide by it."""
    temperature: float = Field(10.0, gt=0.0)
    """Softmax temperature of the router (LaVIN: 10 for ScienceQA, 5 for instruction tuning)."""
    scale: float = 1.0
    """Scale of the adapter's output (LaVIN's adapter_scale)."""
    dropout: Dropout = Field(0.1, validate_default=True)
    """Dropout after A: one value for every layer, or a per-layer schedule {prob, limit, var} (or "PROB:LIMIT:VAR")."""
    where: Literal["attn", "block"] = "attn"
    """attn: an adapter at the attention input of each LM layer (LaVIN's); block: also at the MLP input."""
    vision: bool = True
    """Also put adapters at the attention input of every vision encoder layer (LaVIN's visual_adapter_type router)."""


class AdapterVisionConfig(Component):
    """The vision encoder (CLIP's vision tower or any transformers vision model with a class token); always frozen."""

    role: ClassVar[str] = "vision"

    freeze: Literal[True] = True
    """The encoder's own weights never train in this family (its adapters do)."""
    every: int = Field(4, ge=1)
    """Visual tokens: the class token after every `every`-th encoder layer (LaVIN: 4 of 24 layers -> 6 tokens)."""
    hidden: int = Field(128, ge=1)
    """Width of the visual MLP's hidden layer (LaVIN's hidden_proj)."""
    processor: str | None = None
    """Image processor checkpoint; defaults to `pretrained`, else CLIP's normalisation at the config's image_size."""


class AdapterLanguageConfig(Component):
    """The causal LM (Llama-like: its decoder layers have `input_layernorm` and `post_attention_layernorm`); frozen."""

    role: ClassVar[str] = "causal_lm"

    freeze: Literal[True] = True
    """The LM's own weights never train in this family (its adapters do)."""
    quantization: QuantizationSpec | None = None
    """Load the checkpoint in 4 bits with bitsandbytes (needs `pretrained`); the adapters stay in full precision."""

    @model_validator(mode="after")
    def _quantized_needs_checkpoint(self) -> "AdapterLanguageConfig":
        if self.quantization is not None and self.pretrained is None:
            raise ValueError("quantization: 4-bit loading quantizes a checkpoint's weights; set `pretrained` "
                             "instead of `config`")
        return self


class AdapterModelConfig(FamilyConfig):
    """LaVIN's Mixture-of-Modality Adaptation: a modality token routes adapters in a frozen LM and vision encoder."""

    family: Literal["adapter"] = "adapter"
    """Model family (the discriminator)."""
    vision: AdapterVisionConfig
    """Vision encoder."""
    language: AdapterLanguageConfig
    """Language model."""
    tokenizer: TokenizerConfig = TokenizerConfig()
    """Tokenizer."""
    adapter: AdapterSpec = AdapterSpec()
    """The adapters."""
    image_prompt: str = "Image: "
    """Text before the visual tokens when the sample has an image."""
    no_image_prompt: str = "Image: N/A"
    """Text in their place when it has none."""
    layer_dropout: dict[str, list[float]] | None = None
    """Resolved per-layer adapter dropout {language: [...], vision: [...]}: written by plait when the layer counts
    are known from the configs or a checkpoint's config.json (a local folder, or the Hugging Face cache; else the
    run's `built` event in metrics.jsonl records them); checked against `adapter.dropout` if given."""

    @model_validator(mode="after")
    def _resolve(self) -> "AdapterModelConfig":
        if problem := tokenizer_problem(self.tokenizer, self.language.pretrained):
            raise ValueError(problem)
        if (layers := layer_count(self.vision, "num_hidden_layers")) is not None and self.vision.every > layers:
            raise ValueError(f"vision.every: {self.vision.every} is more than the encoder's {layers} layers "
                             f"(no visual tokens); at most {layers}")
        width = layer_count(self.language, "hidden_size")
        if self.adapter.dim % self.adapter.groups or (width is not None and width % self.adapter.groups):
            raise ValueError(f"adapter.groups: {self.adapter.groups} must divide adapter.dim ({self.adapter.dim}) "
                             f"and the language model's width ({width})")
        resolved = self.resolved_dropout()
        if resolved is None:
            return self
        if self.layer_dropout is not None and self.layer_dropout != resolved:
            raise ValueError(f"layer_dropout: {self.layer_dropout} is not what adapter.dropout gives ({resolved}); "
                             "remove layer_dropout (plait fills it in)")
        object.__setattr__(self, "layer_dropout", resolved)  # not an assignment: validate_assignment would recurse
        return self

    def resolved_dropout(self, language_layers: int | None = None,
                         vision_layers: int | None = None) -> dict[str, list[float]] | None:
        """{language: per-layer values, vision: ...} for these layer counts (default: read from the configs);
        None when a count is unknown."""
        language_layers = language_layers or layer_count(self.language, "num_hidden_layers")
        vision_layers = vision_layers or layer_count(self.vision, "num_hidden_layers")
        if language_layers is None or (self.adapter.vision and vision_layers is None):
            return None
        out = {"language": self.adapter.dropout.values(language_layers)}
        if self.adapter.vision:
            out["vision"] = self.adapter.dropout.values(vision_layers)
        return out


def checkpoint_config(name: str) -> Path | None:
    """config.json of a local checkpoint folder, or of a hub checkpoint already in the Hugging Face cache."""
    local = Path(name) / "config.json"
    if local.is_file():
        return local
    if Path(name).exists() or name.count("/") > 1:
        return None
    from huggingface_hub import try_to_load_from_cache  # no download: only what the cache holds

    found = try_to_load_from_cache(name, "config.json")
    return Path(found) if isinstance(found, str) else None


def layer_count(component: Component, key: str) -> int | None:
    """A layer count from the component's config mapping or a local checkpoint's config.json (None if unknown)."""
    config: dict[str, Any] | None = component.config
    if config is None and component.pretrained:
        file = checkpoint_config(component.pretrained)
        config = json.loads(file.read_text()) if file is not None else None
        if config is not None and config.get("model_type") == "clip":
            config = config.get("vision_config", config)
    if config is None:
        return None
    text = config.get("text_config")
    value = config.get(key, text.get(key) if isinstance(text, dict) else None)
    return int(value) if isinstance(value, int) else None
