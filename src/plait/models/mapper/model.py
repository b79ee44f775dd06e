"""The mapper model: frames -> layer norm -> mapper -> dropout -> encoder-decoder, prompts as token embeddings."""

from __future__ import annotations

import torch
from torch import nn
from transformers.modeling_outputs import Seq2SeqLMOutput

from plait.models.components.loss import token_loss
from plait.models.components.tied import drop_tied_aliases


class MapperSeq2Seq(nn.Module):
    """The encoder sees [encoder-prompt token embeddings][mapped frames]; the decoder starts with its prompt."""

    accepts_loss_kwargs = True  # the Trainer passes num_items_in_batch (see token_loss)
    label_shift = 0  # decoder logits line up with labels (perplexity and train.distill read it)

    def __init__(self, norm: nn.Module, mapper: nn.Module, dropout: float, backbone: nn.Module,
                 label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.norm = norm
        self.mapper = mapper
        self.dropout = nn.Dropout(dropout)
        self.backbone = backbone
        self.label_smoothing = label_smoothing
        drop_tied_aliases(self)

    @property
    def config(self):
        """The backbone's config (the Trainer reads a few fields from it)."""
        return self.backbone.config

    def gradient_checkpointing_enable(self) -> None:
        """Recompute the backbone's activations in the backward pass."""
        self.backbone.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})

    def encoder_inputs(
        self, features: torch.Tensor, feature_mask: torch.Tensor, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder embeddings and mask: left-padded prompt tokens, then the mapped, right-padded frames."""
        embed = self.backbone.get_input_embeddings()
        features = features.to(embed.weight.dtype)
        frames, frame_mask = self.mapper(self.norm(features), feature_mask)
        frames = self.dropout(frames)
        prompt = embed(prompt_ids).to(frames.dtype)  # the embedding module applies any scaling (M2M100, mBART)
        return torch.cat([prompt, frames], dim=1), torch.cat([prompt_mask, frame_mask.to(prompt_mask.dtype)], dim=1)

    def forward(
        self,
        features: torch.Tensor,
        feature_mask: torch.Tensor,
        prompt_ids: torch.Tensor,
        prompt_mask: torch.Tensor,
        decoder_input_ids: torch.Tensor,
        decoder_attention_mask: torch.Tensor,
        labels: torch.Tensor | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> Seq2SeqLMOutput:
        embeds, mask = self.encoder_inputs(features, feature_mask, prompt_ids, prompt_mask)
        out = self.backbone(inputs_embeds=embeds, attention_mask=mask, decoder_input_ids=decoder_input_ids,
                            decoder_attention_mask=decoder_attention_mask, use_cache=False)
        loss = None
        if labels is not None:
            loss = token_loss(out.logits, labels, self.label_smoothing, num_items_in_batch)
        return Seq2SeqLMOutput(loss=loss, logits=out.logits)

    @torch.no_grad()
    def generate(
        self, features: torch.Tensor, feature_mask: torch.Tensor, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor,
        decoder_input_ids: torch.Tensor, decoder_attention_mask: torch.Tensor, **generation: object,
    ) -> torch.Tensor:
        """New tokens only, after the (left-padded) decoder prompt: (batch, generated length)."""
        embeds, mask = self.encoder_inputs(features, feature_mask, prompt_ids, prompt_mask)
        out = self.backbone.generate(inputs_embeds=embeds, attention_mask=mask, decoder_input_ids=decoder_input_ids,
                                     decoder_attention_mask=decoder_attention_mask, **generation)
        return out[:, decoder_input_ids.shape[1]:]
