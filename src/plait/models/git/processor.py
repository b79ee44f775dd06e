"""Turns samples into the git family's tensors: `<bos> prompt target <eos>` and the image's pixels (GIT puts the
image tokens before the text itself)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from plait.data.sample import Sample
from plait.models.components.image_text import ImageTextProcessor


class GitProcessor(ImageTextProcessor):
    """Tokenizer + image processor; labels mask the prompt and padding."""

    def __init__(self, tokenizer: Any, image_processor: Any, image_tokens: int) -> None:
        super().__init__(tokenizer, image_processor)
        self.image_tokens = image_tokens

    def prompt_ids(self, sample: Sample) -> list[int]:
        bos = [self.tokenizer.bos_token_id] if self.tokenizer.bos_token_id is not None else []
        return bos + self._ids(sample.prompt.replace("<image>", " ").strip())

    def length(self, sample: Sample) -> int:
        """Positions of the encoded training sample (image tokens included), without loading its image."""
        images = self.image_tokens if sample.media is not None else 0
        return images + len(self.prompt_ids(sample)) + len(self.target_ids(sample.target))

    @staticmethod
    def _images(batch: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """GIT gives every row of a batch an image: rows without one get zeros (a batch of only text gets none)."""
        pixels = [b["pixel_values"] for b in batch]
        present = [p for p in pixels if p is not None]
        if not present:
            return {}
        return {"pixel_values": torch.stack([torch.zeros_like(present[0]) if p is None else p for p in pixels])}

    def collate(self, batch: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """Right-padded training batch."""
        return self.text_batch(batch) | self._images(batch)

    def collate_prompts(self, batch: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """Left-padded prompts for generation."""
        return self.prompt_batch(batch) | self._images(batch)

    def save(self, folder: Path) -> None:
        self.tokenizer.save_pretrained(folder)
        self.image_processor.save_pretrained(folder)
