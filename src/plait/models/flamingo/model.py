"""The Flamingo model: a causal LM whose decoder layers are wrapped, in place, with gated cross-attention."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn
from transformers.modeling_outputs import CausalLMOutputWithPast

from plait.models.components.loss import token_loss
from plait.models.components.tied import WrapsTransformersModel, drop_tied_aliases
from plait.models.flamingo.cross_attention import GatedCrossAttention, media_index
from plait.models.flamingo.resampler import Resampler


@dataclass
class MediaContext:
    """What the wrapped layers read during one forward or generate call: the images and each token's image."""

    media: torch.Tensor | None = None
    """(batch, images, latents, width) resampled images; None = a text-only call (the blocks are skipped)."""
    index: torch.Tensor | None = None
    """(batch, tokens) image index of each token of the full input, -1 = none yet."""

    def for_tokens(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Media and index matching `hidden`: cached generation steps see the image the prompt ended with."""
        media, index = self.media, self.index
        if hidden.shape[1] != index.shape[1]:  # a step past the prompt: new tokens follow the prompt's last image
            index = index[:, -1:].expand(index.shape[0], hidden.shape[1])
        if hidden.shape[0] != media.shape[0]:  # beam search repeats each row
            repeat = hidden.shape[0] // media.shape[0]
            media, index = media.repeat_interleave(repeat, 0), index.repeat_interleave(repeat, 0)
        return media, index


class FlamingoLayer(nn.Module):
    """A decoder layer with an optional gated cross-attention block run on its input first.

    It replaces the layer in the LM's own ModuleList, so the LM's forward, masks and cache are untouched; the
    LM's class is never modified. Attributes the LM reads from its layers (e.g. attention_type) come from the layer.
    """

    def __init__(self, layer: nn.Module, cross_attention: GatedCrossAttention | None, context: MediaContext) -> None:
        super().__init__()
        self.layer = layer
        self.cross_attention = cross_attention
        self._context = context  # shared, not a submodule

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(super().__getattr__("layer"), name)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self.cross_attention is not None and self._context.media is not None:
            if "hidden_states" in kwargs:
                kwargs["hidden_states"] = self._cross(kwargs["hidden_states"])
            else:
                args = (self._cross(args[0]), *args[1:])
        return self.layer(*args, **kwargs)

    def _cross(self, hidden: torch.Tensor) -> torch.Tensor:
        media, index = self._context.for_tokens(hidden)
        return self.cross_attention(hidden, media, index)


def decoder_layers(language: nn.Module) -> nn.ModuleList:
    """The LM's list of decoder layers: the one ModuleList of num_hidden_layers blocks of one class."""
    count = language.config.get_text_config().num_hidden_layers
    found = [m for m in language.modules() if isinstance(m, nn.ModuleList) and len(m) == count
             and len({type(layer) for layer in m}) == 1]
    if len(found) != 1:
        raise ValueError(f"{type(language).__name__}: found {len(found)} lists of {count} decoder layers, expected one")
    return found[0]


def cross_attention_positions(layers: int, every: int, start: str) -> list[int]:
    """Decoder layers that get a block before them: first = 0, every, ...; last = every-1, 2*every-1, ..."""
    offset = 0 if start == "first" else every - 1
    return [i for i in range(layers) if i % every == offset]


def wrap_layers(language: nn.Module, make_block: Callable[[], GatedCrossAttention], positions: list[int],
                context: MediaContext) -> nn.ModuleList:
    """Put a FlamingoLayer in place of every decoder layer (with a block at `positions`); return the blocks."""
    layers = decoder_layers(language)
    blocks = nn.ModuleList()
    for i, layer in enumerate(layers):
        block = make_block() if i in positions else None
        if block is not None:
            blocks.append(block)
        layers[i] = FlamingoLayer(layer, block, context)
    return blocks


class FlamingoVLM(WrapsTransformersModel, nn.Module):
    """Vision encoder -> resampler -> the LM, whose wrapped layers cross-attend to the images."""

    wrapped = "language"

    def __init__(self, vision: nn.Module, resampler: Resampler, language: nn.Module, image_token_id: int,
                 make_block: Callable[[], GatedCrossAttention], positions: list[int], vision_layer: int = -1,
                 label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.vision = vision
        self.resampler = resampler
        self.language = language
        self.context = MediaContext()
        self.cross_attention = wrap_layers(language, make_block, positions, self.context)
        self.image_token_id = image_token_id
        self.vision_layer = vision_layer
        self.label_smoothing = label_smoothing
        # the blocks sit in the LM's layers and, by the same tensors, in self.cross_attention: the state dict
        # keeps the first name of each (as it does tied embeddings), which loading restores through the sharing
        drop_tied_aliases(self)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters by the part training stages name (the blocks live inside the LM's layers, counted apart)."""
        blocks = {id(p) for p in self.cross_attention.parameters()}
        return {"vision": list(self.vision.parameters()), "resampler": list(self.resampler.parameters()),
                "cross_attention": list(self.cross_attention.parameters()),
                "language": [p for p in self.language.parameters() if id(p) not in blocks]}

    def encode_images(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(batch, images, C, H, W) pixels -> (batch, images, latents, width); the encoder runs without
        gradients when it is frozen."""
        batch, images = pixel_values.shape[:2]
        pixels = pixel_values.flatten(0, 1).to(next(self.vision.parameters()).dtype)
        with torch.set_grad_enabled(torch.is_grad_enabled() and any(p.requires_grad for p in self.vision.parameters())):
            features = self.vision(pixel_values=pixels, output_hidden_states=True).hidden_states[self.vision_layer]
        return self.resampler(features.unflatten(0, (batch, images)))

    def _condition(self, input_ids: torch.Tensor, pixel_values: torch.Tensor | None) -> None:
        if pixel_values is None:
            self.context.media = self.context.index = None
            return
        if pixel_values.dim() == 4:  # one image per row
            pixel_values = pixel_values[:, None]
        index = media_index(input_ids, self.image_token_id)
        if int(index.max()) >= pixel_values.shape[1]:
            raise ValueError(f"a row has {int(index.max()) + 1} {self.image_token_id=} tokens but the batch has "
                             f"{pixel_values.shape[1]} images per row")
        self.context.media, self.context.index = self.encode_images(pixel_values), index

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                pixel_values: torch.Tensor | None = None, labels: torch.Tensor | None = None,
                num_items_in_batch: torch.Tensor | int | None = None) -> CausalLMOutputWithPast:
        """pixel_values: (batch, C, H, W) or (batch, images, C, H, W); the k-th `<image>` of a row is its k-th image."""
        self._condition(input_ids, pixel_values)
        try:
            out = self.language(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
        finally:
            self.context.media = self.context.index = None
        loss = None
        if labels is not None:
            loss = token_loss(out.logits[:, :-1], labels[:, 1:], self.label_smoothing, num_items_in_batch)
        return CausalLMOutputWithPast(loss=loss, logits=out.logits)

    @torch.no_grad()
    def generate(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                 pixel_values: torch.Tensor | None = None, **generation: Any) -> torch.Tensor:
        """New tokens only: (batch, generated length). Prompts must be left-padded; generated tokens see the
        prompt's latest image."""
        self._condition(input_ids, pixel_values)
        try:
            out = self.language.generate(input_ids=input_ids, attention_mask=attention_mask, **generation)
        finally:
            self.context.media = self.context.index = None
        return out[:, input_ids.shape[1]:]
