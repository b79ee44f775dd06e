"""The projector family's frozen-encoder feature cache: when it is safe, and how inputs are encoded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from plait.data.cache import cache_root
from plait.data.modalities.image import load_image
from plait.errors import UserError
from plait.models.components.feature_cache import FeatureCache, encoder_fingerprint, unsafe_reason
from plait.models.projector.model import ProjectorVLM


def feature_cache(setting: bool | str, model: ProjectorVLM, image_processor: Any) -> tuple[FeatureCache | None, str]:
    """The cache for `model.vision.cache_features`, or None with why not (false, or auto and unsafe).

    With auto, the cache returned is a candidate: training weighs its fill cost against its saving for the
    epochs the run does (plait.train.feature_plan) and may still train without it.
    """
    if setting is False:
        return None, "model.vision.cache_features: false"
    reason = unsafe_reason(model.vision)
    if reason is not None:
        if setting == "auto":
            return None, f"not safe: {reason}"
        raise UserError(f"model.vision.cache_features: true, but {reason}; "
                        "set model.vision.cache_features to auto (cache only when safe) or false")
    settings = {
        "encoder": model.vision.config.to_dict(), "class": type(model.vision).__name__,
        "feature": model.feature, "layer": model.layer, "drop_cls": model.drop_cls,
        "image_processor": image_processor.to_dict(),
    }
    folder = cache_root() / "features" / encoder_fingerprint(model.vision, settings)[:32]

    def prepare(paths: list[Path]) -> torch.Tensor:
        return image_processor(images=[load_image(p) for p in paths], return_tensors="pt")["pixel_values"]

    @torch.no_grad()
    def encode(pixels: torch.Tensor) -> torch.Tensor:
        return model.vision_features(pixels.to(next(model.vision.parameters()).device))

    return FeatureCache(folder, encode, prepare=prepare, setting="auto" if setting == "auto" else "true",
                        unsafe=lambda: unsafe_reason(model.vision)), ""
