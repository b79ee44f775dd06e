"""Turns samples into the flamingo family's tensors: `<image>` where the image sits, `<|endofchunk|>` after its text."""

from __future__ import annotations

from typing import Any

import torch

from plait.data.sample import Sample
from plait.models.components.image_text import ImageTextProcessor


class FlamingoProcessor(ImageTextProcessor):
    """Tokenizer + image processor. A sample with an image reads `<bos> ... <image> prompt target <eoc> <eos>`
    (the marker is prepended when the prompt has none); a text-only sample `<bos> prompt target <eos>`.
    Labels mask the prompt, padding and `<image>`."""

    def __init__(self, tokenizer: Any, image_processor: Any, image_token: str, end_of_chunk: str) -> None:
        super().__init__(tokenizer, image_processor)
        self.image_token = image_token
        self.end_of_chunk = end_of_chunk
        self.image_token_id = tokenizer.convert_tokens_to_ids(image_token)
        self.end_of_chunk_id = tokenizer.convert_tokens_to_ids(end_of_chunk)

    def prompt_parts(self, sample: Sample) -> list[str | list[int]]:
        """BOS, then the prompt with `<image>` (prepended when the sample has an image and the prompt no marker)."""
        bos = [self.tokenizer.bos_token_id] if self.tokenizer.bos_token_id is not None else []
        prompt = sample.prompt
        if sample.media is None:
            prompt = " ".join(prompt.replace(self.image_token, " ").split())
        elif self.image_token not in prompt:
            prompt = self.image_token + prompt
        before, found, after = prompt.partition(self.image_token)
        # a trained tokenizer keeps spaces (a space before the marker would be a token of its own)
        return [bos, before.rstrip(), [self.image_token_id] if found else [], after]

    def target_parts(self, sample: Sample) -> list[str | list[int]]:
        end = [self.end_of_chunk_id] if sample.media is not None else []
        return [sample.target, end + [self.tokenizer.eos_token_id]]

    def target_length(self, text: str) -> int:
        return len(self._ids(text)) + 2

    def length(self, sample: Sample) -> int:
        """Tokens of the encoded training sample, without loading its image."""
        return len(self.prompt_ids(sample)) + len(self.sample_target_ids(sample))

    def images(self, batch: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """(batch, 1, C, H, W): rows without an image get zeros, which no token attends to."""
        out = super().images(batch)
        return {"pixel_values": out["pixel_values"][:, None]} if out else out
