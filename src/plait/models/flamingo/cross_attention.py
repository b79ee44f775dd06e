"""Gated cross-attention from text tokens to the resampled images, and which image each token may see."""

from __future__ import annotations

import torch
from torch import nn
from transformers import IdeficsConfig

# transformers' Idefics has Flamingo's gated block: attention from text to the visual latents, then a
# feed-forward block, each added to the residual scaled by tanh of a gate initialised to 0, and rows that see
# no image zeroed. It uses RMSNorm and a gated (SwiGLU) MLP where OpenFlamingo uses LayerNorm and a GELU MLP.
# Not exported at the top level of transformers, so imported from its module.
from transformers.models.idefics.modeling_idefics import IdeficsGatedCrossAttentionLayer


def media_index(input_ids: torch.Tensor, image_token_id: int) -> torch.Tensor:
    """(batch, tokens) index of the latest image at or before each token; -1 before the first image."""
    return torch.cumsum(input_ids == image_token_id, dim=1) - 1


class GatedCrossAttention(nn.Module):
    """x + tanh(g1) * attn(x, images) then x + tanh(g2) * ff(x) at tokens that follow an image; g1 = g2 = 0 at init,
    so the block starts as identity."""

    def __init__(self, dim: int, media_dim: int, heads: int, ff_mult: int, dropout: float = 0.0,
                 only_latest_image: bool = True) -> None:
        super().__init__()
        config = IdeficsConfig(hidden_size=dim, num_attention_heads=heads, intermediate_size=ff_mult * dim,
                               dropout=dropout, alpha_initializer="zeros", alpha_type="float", qk_layer_norms=False,
                               vision_config={"embed_dim": media_dim})
        config._attn_implementation = "sdpa"
        self.block = IdeficsGatedCrossAttentionLayer(config, layer_idx=0)
        self.only_latest_image = only_latest_image

    def forward(self, hidden: torch.Tensor, media: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """hidden (batch, tokens, dim); media (batch, images, latents, media_dim); index (batch, tokens) from media_index."""
        batch, images, latents = media.shape[:3]
        image_of_latent = torch.arange(images, device=media.device).repeat_interleave(latents)
        if self.only_latest_image:
            allowed = index[:, :, None] == image_of_latent[None, None, :]
        else:
            allowed = image_of_latent[None, None, :] <= index[:, :, None]
        mask = torch.zeros(allowed.shape, dtype=hidden.dtype, device=hidden.device)
        mask = mask.masked_fill(~allowed, torch.finfo(hidden.dtype).min)[:, None]
        sees = index >= 0
        out = self.block(hidden, image_hidden_states=media.flatten(1, 2).to(hidden.dtype),
                         image_attention_mask=mask, cross_attention_gate=sees.to(hidden.dtype))
        # Tokens before any image skip the feed-forward too (OpenFlamingo and Idefics apply it to every token):
        # text before the first image is then exactly the LM's, as a text-only row or batch is.
        return torch.where(sees[..., None], out, hidden)

    @property
    def gates(self) -> tuple[nn.Parameter, nn.Parameter]:
        """The attention and feed-forward gates (pre-tanh)."""
        return self.block.alpha_cross_attn, self.block.alpha_dense
