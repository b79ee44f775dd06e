"""LaVIN's model: [modality token, BOS, "Image: ", visual tokens, prompt] through a frozen LM with routed adapters."""

from __future__ import annotations

import torch
from torch import nn
from transformers.modeling_outputs import CausalLMOutputWithPast

from plait.models.adapter.modules import AdaptedNorm, RouterAdapter, Routing, VisualTokens
from plait.models.components.loss import token_loss
from plait.models.components.tied import drop_tied_aliases


def decoder_layers(language: nn.Module) -> nn.ModuleList:
    """The decoder layers of a Llama-like causal LM (model.layers); a ValueError names what was found instead."""
    inner = getattr(language, "model", None)
    layers = getattr(inner, "layers", None)
    if not isinstance(layers, nn.ModuleList) or not hasattr(layers[0], "input_layernorm"):
        raise ValueError(f"{type(language).__name__} has no Llama-like decoder layers "
                         "(model.layers[i].input_layernorm)")
    return layers


def encoder_layers(vision: nn.Module) -> nn.ModuleList:
    """The encoder layers of a CLIP/SigLIP-like vision model (vision_model.encoder.layers[i].layer_norm1)."""
    inner = getattr(vision, "vision_model", vision)
    layers = getattr(getattr(inner, "encoder", None), "layers", None)
    if not isinstance(layers, nn.ModuleList) or not hasattr(layers[0], "layer_norm1"):
        raise ValueError(f"{type(vision).__name__} has no CLIP-like encoder layers (encoder.layers[i].layer_norm1)")
    return layers


class AdapterVLM(nn.Module):
    """Frozen vision encoder and LM; adapters after the attention-input norms, routed by a modality token."""

    accepts_loss_kwargs = True  # the Trainer passes num_items_in_batch (see token_loss)
    label_shift = 1  # logits[:, t] scores labels[:, t + 1] (perplexity and train.distill read it)

    def __init__(self, vision: nn.Module, language: nn.Module, modality_token_id: int, image_token_id: int,
                 dim: int = 8, groups: int = 2, temperature: float = 10.0, scale: float = 1.0,
                 language_dropout: list[float] | None = None, vision_dropout: list[float] | None = None,
                 where: str = "attn", every: int = 4, hidden: int = 128, label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.vision = vision
        self.language = language
        self.modality_token_id = modality_token_id
        self.image_token_id = image_token_id
        self.label_smoothing = label_smoothing
        lm_width = language.get_input_embeddings().embedding_dim
        vision_width = vision.config.hidden_size
        self.modality = nn.Embedding(2, lm_width)  # row 0: no image, row 1: image (LaVIN's img_indicator)
        self.visual = VisualTokens(vision_width, lm_width, every, hidden)
        self.routing, self.vision_routing = Routing(), Routing()
        layers = decoder_layers(language)
        language_dropout = language_dropout or [0.0] * len(layers)
        norms = ["input_layernorm"] + (["post_attention_layernorm"] if where == "block" else [])
        for layer, p in zip(layers, language_dropout, strict=True):
            for name in norms:
                adapter = RouterAdapter(lm_width, dim, groups, temperature, scale, p)
                setattr(layer, name, AdaptedNorm(getattr(layer, name), adapter, self.routing))
        if vision_dropout is not None:
            for layer, p in zip(encoder_layers(vision), vision_dropout, strict=True):
                adapter = RouterAdapter(vision_width, dim, groups, temperature, scale, p)
                layer.layer_norm1 = AdaptedNorm(layer.layer_norm1, adapter, self.vision_routing)
        drop_tied_aliases(self)  # a tied LM head: the Trainer's safetensors checkpoints refuse shared tensors

    @property
    def config(self):
        """The language model's config (the Trainer reads a few fields from it)."""
        return self.language.config

    def gradient_checkpointing_enable(self) -> None:
        """Recompute the LM's activations in the backward pass (the routing weights are kept from the forward)."""
        # non-reentrant: reentrant checkpointing passes no gradient to adapters when the block inputs need none
        self.language.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})

    def trainable_parameters(self) -> dict[str, nn.Parameter]:
        """What trains: every adapter, the modality embedding and the visual MLP (LaVIN's 'adapter' parameters)."""
        return {n: p for n, p in self.named_parameters()
                if n.startswith(("modality.", "visual.")) or ".adapter." in n}

    def adapters(self) -> list[RouterAdapter]:
        return [m for m in self.modules() if isinstance(m, RouterAdapter)]

    def visual_tokens(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(images, L // every, LM width)."""
        self.vision_routing.begin(None)  # the encoder's adapters route from its class token
        dtype = next(self.vision.parameters()).dtype
        out = self.vision(pixel_values=pixel_values.to(dtype), output_hidden_states=True)
        return self.visual(out.hidden_states)

    def inputs(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
               pixel_values: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(input embeddings, attention mask without the modality token, position ids); routing set up."""
        is_modality = input_ids == self.modality_token_id
        is_image = input_ids == self.image_token_id
        if not bool((is_modality.sum(1) == 1).all()):
            raise ValueError("each row needs exactly one modality token")
        placeholders = is_modality | is_image
        embeds = self.language.get_input_embeddings()(input_ids.masked_fill(placeholders, 0))
        has_image = is_image.any(1)
        modality = self.modality(has_image.long()).to(embeds.dtype)
        embeds = torch.where(is_modality[..., None], modality[:, None, :], embeds)
        if pixel_values is not None and bool(has_image.any()):
            feats = self.visual_tokens(pixel_values).to(embeds.dtype)
            if feats.shape[0] * feats.shape[1] != int(is_image.sum()):
                raise ValueError(f"{int(is_image.sum())} image tokens but "
                                 f"{feats.shape[0]}x{feats.shape[1]} visual tokens")
            embeds = embeds.masked_scatter(is_image[..., None].expand_as(embeds), feats)
        # No token attends to the modality token (LaVIN masks it out of attention); positions skip it, as
        # generate() derives them from this mask, so training and generation place every token alike.
        mask = attention_mask.masked_fill(is_modality, 0)
        positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
        self.routing.begin(is_modality.long().argmax(1), input_ids.shape[1])
        return embeds, mask, positions

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, pixel_values: torch.Tensor | None = None,
                labels: torch.Tensor | None = None,
                num_items_in_batch: torch.Tensor | int | None = None) -> CausalLMOutputWithPast:
        embeds, mask, positions = self.inputs(input_ids, attention_mask, pixel_values)
        out = self.language(inputs_embeds=embeds, attention_mask=mask, position_ids=positions, use_cache=False)
        loss = None
        if labels is not None:
            loss = token_loss(out.logits[:, :-1], labels[:, 1:], self.label_smoothing, num_items_in_batch)
        return CausalLMOutputWithPast(loss=loss, logits=out.logits)

    @torch.no_grad()
    def generate(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                 pixel_values: torch.Tensor | None = None, **generation: object) -> torch.Tensor:
        """New tokens only: (batch, generated length). Prompts must be left-padded. The placeholders (modality and
        image tokens) are never generated: they stand for embeddings the model makes, not text."""
        embeds, mask, _ = self.inputs(input_ids, attention_mask, pixel_values)
        generation.setdefault("suppress_tokens", [self.modality_token_id, self.image_token_id])
        return self.language.generate(inputs_embeds=embeds, attention_mask=mask, **generation)
