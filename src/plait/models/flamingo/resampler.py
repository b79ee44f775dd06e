"""The Perceiver resampler: a fixed number of learned latents summarise each image's patch features."""

from __future__ import annotations

import torch
from torch import nn
from transformers import IdeficsConfig

# transformers' Idefics (Hugging Face's Flamingo) has this exact resampler: latents attend to the features
# concatenated with themselves, then a feed-forward block, `depth` times, then LayerNorm (its feed-forward uses
# ReLU where OpenFlamingo uses GELU). Not exported at the top level of transformers, so imported from its module.
from transformers.models.idefics.perceiver import IdeficsPerceiverResampler


class Resampler(nn.Module):
    """(batch, images, patches, width) features -> (batch, images, latents, width)."""

    def __init__(self, width: int, depth: int, heads: int, head_dim: int, latents: int) -> None:
        super().__init__()
        # the Idefics resampler reads two settings from an IdeficsConfig: qk norms and the feed-forward width
        config = IdeficsConfig(vision_config={"embed_dim": width}, perceiver_config={"qk_layer_norms_perceiver": False})
        self.perceiver = IdeficsPerceiverResampler(config, width, depth, heads, head_dim, latents)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        batch, images = features.shape[:2]
        latents = self.perceiver(features.flatten(0, 1))
        return latents.unflatten(0, (batch, images))
