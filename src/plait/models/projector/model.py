"""The LLaVA-style model: vision encoder -> projector -> causal LM, images placed at image tokens."""

from __future__ import annotations

import torch
from torch import nn
from transformers.modeling_outputs import CausalLMOutputWithPast

try:
    from plait.models.components.loss import token_loss
except ImportError:  # in an export folder, beside a copy of loss.py (see export.py and remote_code.py)
    from .loss import token_loss


class ProjectorVLM(nn.Module):
    """Image features, projected, replace the embeddings of image tokens in the LM's input."""

    accepts_loss_kwargs = True  # the Trainer passes num_items_in_batch (see token_loss)
    label_shift = 1  # logits[:, t] scores labels[:, t + 1] (perplexity and train.distill read it)

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
        # Reentrant checkpointing passes no gradient through blocks whose inputs need none, which leaves
        # LoRA weights untrained when the embeddings are frozen; the non-reentrant kind does not.
        kwargs = {"gradient_checkpointing_kwargs": {"use_reentrant": False}}
        self.language.gradient_checkpointing_enable(**kwargs)
        if any(p.requires_grad for p in self.vision.parameters()):
            self.vision.gradient_checkpointing_enable(**kwargs)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters by the part training stages name: vision, projector, language (base weights) and lora."""
        groups: dict[str, list[nn.Parameter]] = {"vision": [], "projector": list(self.projector.parameters()),
                                                 "language": [], "lora": []}
        for part in ("vision", "language"):
            for name, param in getattr(self, part).named_parameters():
                groups["lora" if "lora_" in name else part].append(param)
        return groups

    def image_features(self, pixel_values: torch.Tensor | None = None,
                       vision_features: torch.Tensor | None = None) -> torch.Tensor:
        """(batch, image tokens, LM hidden size), from pixels or from precomputed encoder outputs."""
        if vision_features is None:
            vision_features = self.vision_features(pixel_values)
        return self.projector(vision_features.to(next(self.projector.parameters()).dtype))

    def vision_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """The encoder's outputs before the projector: (batch, image tokens, encoder width)."""
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
        return feats

    def embed(self, input_ids: torch.Tensor, pixel_values: torch.Tensor | None,
              vision_features: torch.Tensor | None = None) -> torch.Tensor:
        """Token embeddings with image features scattered over the image-token positions."""
        is_image = input_ids == self.image_token_id
        embeds = self.language.get_input_embeddings()(input_ids.masked_fill(is_image, 0))
        if pixel_values is None and vision_features is None:
            return embeds
        image_tokens = int(is_image.sum())  # the one host sync per step (on GPU), checked below
        if image_tokens == 0:
            return embeds
        feats = self.image_features(pixel_values, vision_features).to(embeds.dtype)
        if feats.shape[0] * feats.shape[1] != image_tokens:
            raise ValueError(
                f"{image_tokens} image tokens in the batch but {feats.shape[0]}x{feats.shape[1]} image features"
            )
        return embeds.masked_scatter(is_image[..., None].expand_as(embeds), feats)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        pixel_values: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        vision_features: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> CausalLMOutputWithPast:
        # vision_features: cached encoder outputs (see feature_cache.py) in place of pixel_values;
        # position_ids without attention_mask: a padding-free batch, sequences restart at 0 (see packing.py)
        embeds = self.embed(input_ids, pixel_values, vision_features)
        out = self.language(inputs_embeds=embeds, attention_mask=attention_mask, position_ids=position_ids,
                            use_cache=False)
        loss = None
        if labels is not None:
            # position 0 (a prompt token) is never a target, so the Trainer's count of labels != -100 is exact
            loss = token_loss(out.logits[:, :-1], labels[:, 1:], self.label_smoothing, num_items_in_batch)
        return CausalLMOutputWithPast(loss=loss, logits=out.logits)

    @torch.no_grad()
    def generate(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, pixel_values: torch.Tensor | None = None,
        **generation: object,
    ) -> torch.Tensor:
        """New tokens only: (batch, generated length). Prompts must be left-padded."""
        embeds = self.embed(input_ids, pixel_values)
        return self.language.generate(inputs_embeds=embeds, attention_mask=attention_mask, **generation)
