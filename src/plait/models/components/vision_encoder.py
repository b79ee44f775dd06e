"""Any transformers vision encoder, from a checkpoint or a config (CLIP and SigLIP as their vision towers)."""

from __future__ import annotations

from typing import Any

import torch
from transformers import AutoConfig, AutoModel, PretrainedConfig

from plait.errors import UserError
from plait.models.components.loading import load_pretrained, make_config
from plait.models.projector.build import VISION_CLASSES


def encoder_class(model_type: str) -> Any:
    """The class that gives a vision tower for `model_type` (a full CLIP/SigLIP checkpoint -> its vision model)."""
    return VISION_CLASSES.get(model_type, AutoModel)


def encoder_from_config(config: PretrainedConfig) -> torch.nn.Module:
    """A randomly initialised encoder."""
    cls = encoder_class(config.model_type)
    return cls.from_config(config) if cls is AutoModel else cls._from_config(config)


def build_encoder(pretrained: str | None, config: dict[str, Any] | None, where: str) -> torch.nn.Module:
    """The encoder a config section names: a checkpoint, or a config mapping with model_type."""
    if pretrained:
        kind = load_pretrained(AutoConfig, pretrained, where).model_type
        encoder = load_pretrained(encoder_class(kind), pretrained, where)
    else:
        encoder = encoder_from_config(make_config(config, where))
    reads = getattr(encoder, "main_input_name", "pixel_values")
    if reads != "pixel_values":  # a config's type is checked before the build (plait.models.preflight)
        raise UserError(f"{where}.{'pretrained' if pretrained else 'config.model_type'}: {type(encoder).__name__} "
                        f"is not a vision model (it reads {reads}, not pixel_values)")
    return encoder


def encoder_from_folder(folder: Any) -> torch.nn.Module:
    """An encoder with the architecture of a saved config (weights loaded separately)."""
    return encoder_from_config(AutoConfig.from_pretrained(folder))
