"""The training side of processors for text with at most one image per sample: ids, labels and pixels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from plait.data.modalities.image import pixel_values, pixel_values_many
from plait.data.sample import Sample
from plait.models.components.text import TextProcessor, joined


class ImageTextProcessor(TextProcessor):
    """A tokenizer and a transformers image processor; a training example is the prompt's ids (the family's
    `prompt_parts`), then the target's (`target_parts`), labelled, and the image's pixels (None without one)."""

    def __init__(self, tokenizer: Any, image_processor: Any) -> None:
        super().__init__(tokenizer)
        self.image_processor = image_processor

    def prompt_parts(self, sample: Sample) -> list[str | list[int]]:
        """What comes before the target, in order: texts still to tokenise and ids (each family places its image
        and special tokens)."""
        raise NotImplementedError

    def target_parts(self, sample: Sample) -> list[str | list[int]]:
        """The target as labelled, in parts (by default its text, then EOS: `target_ids`)."""
        return [sample.target, [self.tokenizer.eos_token_id]]

    def prompt_ids(self, sample: Sample) -> list[int]:
        return joined(self.prompt_parts(sample), self._ids)

    def sample_target_ids(self, sample: Sample) -> list[int]:
        return joined(self.target_parts(sample), self._ids)

    def pixels(self, sample: Sample) -> torch.Tensor | None:
        return pixel_values(self.image_processor, sample.media)

    def encode_train(self, sample: Sample) -> dict[str, Any]:
        return self._train_item(sample, self.pixels(sample))

    def encode_train_many(self, samples: list[Sample]) -> list[dict[str, Any]]:
        """What encode_train gives each sample, with the batch's texts through one tokenizer call and its images
        through one image-processor call."""
        prompts, targets = self.sides_many(samples, self.prompt_parts, self.target_parts)
        return [_item(prompt, target, p) for prompt, target, p in zip(prompts, targets, self.pixels_many(samples))]

    def pixels_many(self, samples: list[Sample]) -> list[torch.Tensor | None]:
        """Each sample's `pixels`, the batch's images through one image-processor call."""
        return pixel_values_many(self.image_processor, [s.media for s in samples])

    def encode_prompt(self, sample: Sample) -> dict[str, Any]:
        return {"input_ids": self.prompt_ids(sample), "pixel_values": self.pixels(sample)}

    def encode_prompt_many(self, samples: list[Sample]) -> list[dict[str, Any]]:
        """What encode_prompt gives each sample, with the batch's texts through one tokenizer call and its images
        through one image-processor call (encode_train_many without the targets)."""
        [prompts] = self.sides_many(samples, self.prompt_parts)
        return [{"input_ids": ids, "pixel_values": p} for ids, p in zip(prompts, self.pixels_many(samples))]

    def _train_item(self, sample: Sample, pixels: torch.Tensor | None) -> dict[str, Any]:
        return _item(self.prompt_ids(sample), self.sample_target_ids(sample), pixels)

    def images(self, batch: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """The batch's pixels, every row given an image (zeros where a sample has none); {} for only text."""
        pixels = [b["pixel_values"] for b in batch]
        present = [p for p in pixels if p is not None]
        if not present:
            return {}
        return {"pixel_values": torch.stack([torch.zeros_like(present[0]) if p is None else p for p in pixels])}

    def collate(self, batch: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """Right-padded training batch."""
        return self.text_batch(batch) | self.images(batch)

    def collate_prompts(self, batch: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """Left-padded prompts for generation."""
        return self.prompt_batch(batch) | self.images(batch)

    def save(self, folder: Path) -> None:
        self.tokenizer.save_pretrained(folder)
        self.image_processor.save_pretrained(folder)


def _item(prompt: list[int], target: list[int], pixels: torch.Tensor | None) -> dict[str, Any]:
    return {"input_ids": prompt + target, "labels": [-100] * len(prompt) + target, "pixel_values": pixels}
