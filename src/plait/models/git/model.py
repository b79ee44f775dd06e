"""transformers' GitForCausalLM with the loss computed over the positions a batch really has (text-only included)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from transformers import GitForCausalLM
from transformers.modeling_outputs import CausalLMOutputWithPast

from plait.models.components.loss import token_loss
from plait.models.components.tied import WrapsTransformersModel, drop_tied_aliases


def replace_encoder(git: GitForCausalLM, encoder: nn.Module, image_tokens: int) -> None:
    """Put `encoder` in place of GIT's image encoder, with a fresh projection to its width (as BabyLM does).

    GIT's layers read the image-token count only for their own loss and for widening the mask of cached
    generation steps; it is set on those module instances (the class is not changed).
    """
    width, config = encoder.config.hidden_size, git.config
    git.git.image_encoder = encoder
    git.git.visual_projection.visual_projection = nn.Sequential(
        nn.Linear(width, config.hidden_size), nn.LayerNorm(config.hidden_size, eps=config.vision_config.layer_norm_eps))
    set_image_tokens(git, image_tokens)


def set_image_tokens(git: GitForCausalLM, image_tokens: int) -> None:
    for layer in git.git.encoder.layer:
        layer.attention.self.image_patch_tokens = image_tokens


class GitVLM(WrapsTransformersModel, nn.Module):
    """GitForCausalLM, trained with plait's token loss.

    GitForCausalLM's own loss always drops the image positions, so a batch without pixel values (text only)
    fails in it; here the image positions are the logits' length minus the text's, 0 for a text-only batch.
    The logits returned are the text's (the image positions predict nothing), lined up with input_ids like
    every other causal family's: logits[:, t] scores labels[:, t + 1].
    """

    wrapped = "git"

    def __init__(self, git: GitForCausalLM, label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.git = git
        self.label_smoothing = label_smoothing
        drop_tied_aliases(self)  # a tied output head is saved once (the Trainer's checkpoints refuse shared tensors)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters by the part training stages name: vision (encoder), projection, language (the rest)."""
        inner = self.git.git
        vision = list(inner.image_encoder.parameters())
        projection = list(inner.visual_projection.parameters())
        if getattr(inner, "img_temporal_embedding", None) is not None:
            projection += list(inner.img_temporal_embedding.parameters())
        taken = {id(p) for p in vision + projection}
        return {"vision": vision, "projection": projection,
                "language": [p for p in self.git.parameters() if id(p) not in taken]}

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                pixel_values: torch.Tensor | None = None, labels: torch.Tensor | None = None,
                num_items_in_batch: torch.Tensor | int | None = None) -> CausalLMOutputWithPast:
        """pixel_values (batch, C, H, W), or (batch, frames, C, H, W) with num_image_with_embedding; None = text only.
        Logits have the text's positions (GIT's image-token positions are dropped)."""
        out = self.git(input_ids=input_ids, attention_mask=attention_mask, pixel_values=pixel_values, use_cache=False)
        logits = out.logits[:, out.logits.shape[1] - input_ids.shape[1]:]
        loss = None
        if labels is not None:
            loss = token_loss(logits[:, :-1], labels[:, 1:], self.label_smoothing, num_items_in_batch)
        return CausalLMOutputWithPast(loss=loss, logits=logits)

    @torch.no_grad()
    def generate(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                 pixel_values: torch.Tensor | None = None, **generation: Any) -> torch.Tensor:
        """New tokens only: (batch, generated length)."""
        if pixel_values is None:
            # GIT widens the mask of every cached step by the image tokens, also when there were none
            generation["use_cache"] = False
        out = self.git.generate(input_ids=input_ids, attention_mask=attention_mask, pixel_values=pixel_values,
                                **generation)
        return out[:, input_ids.shape[1]:]
