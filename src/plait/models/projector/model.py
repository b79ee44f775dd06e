"""The LLaVA-style model: vision encoder -> projector -> causal LM, images placed at image tokens."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers.modeling_outputs import CausalLMOutputWithPast


class ProjectorVLM(nn.Module):
    """Image features, projected, replace the embeddings of image tokens in the LM's input."""

    def __init__(
        self,
        vision: nn.Module,
        projector: nn.Module,
        language: nn.Module,
        image_token_id: int,
        feature: str = "patch",
        layer: int = -2,
        drop_cls: bool = False,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__()
        self.vision = vision
        self.projector = projector
        self.language = language
        self.image_token_id = image_token_id
        self.feature = feature
        self.layer = layer
        self.drop_cls = drop_cls
        self.label_smoothing = label_smoothing

    @property
    def config(self):
        """The language model's config (the Trainer reads a few fields from it)."""
        return self.language.config

    def gradient_checkpointing_enable(self) -> None:
        """Recompute the language model's (and encoder's) activations in the backward pass."""
        kwargs = {"gradient_checkpointing_kwargs": {"use_reentrant": False}}
        self.language.gradient_checkpointing_enable(**kwargs)
        if any(p.requires_grad for p in self.vision.parameters()):
            self.vision.gradient_checkpointing_enable(**kwargs)

    def image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(batch, image tokens, LM hidden size)."""
        pixel_values = pixel_values.to(next(self.vision.parameters()).dtype)
        if self.feature == "pooled":
            out = self.vision(pixel_values=pixel_values)
            pooled = out.image_embeds if getattr(out, "image_embeds", None) is not None else out.pooler_output
            feats = pooled[:, None, :]
        else:
            out = self.vision(pixel_values=pixel_values, output_hidden_states=True)
            feats = out.hidden_states[self.layer]
            if self.drop_cls:
                feats = feats[:, 1:]
        return self.projector(feats)

    def embed(self, input_ids: torch.Tensor, pixel_values: torch.Tensor | None) -> torch.Tensor:
        """Token embeddings with image features scattered over the image-token positions."""
        is_image = input_ids == self.image_token_id
        embeds = self.language.get_input_embeddings()(input_ids.masked_fill(is_image, 0))
        if pixel_values is None or not is_image.any():
            return embeds
        feats = self.image_features(pixel_values).to(embeds.dtype)
        if feats.shape[0] * feats.shape[1] != int(is_image.sum()):
            raise ValueError(
                f"{int(is_image.sum())} image tokens in the batch but {feats.shape[0]}x{feats.shape[1]} image features"
            )
        return embeds.masked_scatter(is_image[..., None].expand_as(embeds), feats)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        pixel_values: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ) -> CausalLMOutputWithPast:
        embeds = self.embed(input_ids, pixel_values)
        out = self.language(inputs_embeds=embeds, attention_mask=attention_mask, use_cache=False)
        loss = None
        if labels is not None:
            logits = out.logits[:, :-1].float()
            loss = F.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1),
                ignore_index=-100, label_smoothing=self.label_smoothing,
            )
        return CausalLMOutputWithPast(loss=loss, logits=out.logits)

    @torch.no_grad()
    def generate(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, pixel_values: torch.Tensor | None = None,
        **generation: object,
    ) -> torch.Tensor:
        """New tokens only: (batch, generated length). Prompts must be left-padded."""
        embeds = self.embed(input_ids, pixel_values)
        return self.language.generate(inputs_embeds=embeds, attention_mask=attention_mask, **generation)
