"""Turns samples into the adapter family's tensors: [modality, BOS, "Image: ", visual tokens, prompt] + target."""

from __future__ import annotations

from typing import Any

import torch

from plait.data.collate import mask, pad
from plait.data.sample import Sample
from plait.models.components.image_text import ImageTextProcessor

MODALITY_TOKEN = "<modality>"
IMAGE_TOKEN = "<image>"


class AdapterProcessor(ImageTextProcessor):
    """Tokenizer + image processor; a sample without an image gets the no-image prompt instead of visual tokens."""

    def __init__(self, tokenizer: Any, image_processor: Any, num_visual_tokens: int,
                 image_prompt: str = "Image: ", no_image_prompt: str = "Image: N/A") -> None:
        super().__init__(tokenizer, image_processor)
        self.num_visual_tokens = num_visual_tokens
        self.image_prompt = image_prompt
        self.no_image_prompt = no_image_prompt
        self.modality_id = tokenizer.convert_tokens_to_ids(MODALITY_TOKEN)
        self.image_id = tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)

    def prompt_parts(self, sample: Sample) -> list[str | list[int]]:
        """The modality token, BOS, the image part and the prompt (placeholders typed into it are dropped)."""
        bos = [self.tokenizer.bos_token_id] if self.tokenizer.bos_token_id is not None else []
        if sample.media is not None:
            image: list[str | list[int]] = [self.image_prompt, [self.image_id] * self.num_visual_tokens]
        else:
            image = [self.no_image_prompt]
        prompt = sample.prompt.replace(IMAGE_TOKEN, "").replace(MODALITY_TOKEN, "").strip()
        return [[self.modality_id] + bos, *image, prompt]  # token lists joined, as LaVIN does

    def length(self, sample: Sample) -> int:
        """Tokens of the encoded training sample, without loading its image."""
        return len(self.prompt_ids(sample)) + len(self.target_ids(sample.target))

    def _batch(self, batch: list[dict[str, Any]], side: str) -> dict[str, torch.Tensor]:
        ids = [b["input_ids"] for b in batch]
        out = {"input_ids": pad(ids, self.pad_id, side), "attention_mask": mask(ids, side)}
        if "labels" in batch[0]:
            out["labels"] = pad([b["labels"] for b in batch], -100, side)
        pixels = [b["pixel_values"] for b in batch if b["pixel_values"] is not None]
        if pixels:
            out["pixel_values"] = torch.stack(pixels)
        return out

    def collate(self, batch: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """Right-padded training batch."""
        return self._batch(batch, "right")

    def collate_prompts(self, batch: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """Left-padded prompts for generation."""
        return self._batch(batch, "left")
