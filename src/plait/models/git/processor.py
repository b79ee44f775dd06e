"""Turns samples into the git family's tensors: `<bos> prompt target <eos>` and the image's pixels (GIT puts the
image tokens before the text itself)."""

from __future__ import annotations

from typing import Any

from plait.data.sample import Sample
from plait.models.components.image_text import ImageTextProcessor


class GitProcessor(ImageTextProcessor):
    """Tokenizer + image processor; labels mask the prompt and padding."""

    def __init__(self, tokenizer: Any, image_processor: Any, image_tokens: int) -> None:
        super().__init__(tokenizer, image_processor)
        self.image_tokens = image_tokens

    def prompt_parts(self, sample: Sample) -> list[str | list[int]]:
        bos = [self.tokenizer.bos_token_id] if self.tokenizer.bos_token_id is not None else []
        return [bos, sample.prompt.replace("<image>", " ").strip()]

    def length(self, sample: Sample) -> int:
        """Positions of the encoded training sample (image tokens included), without loading its image."""
        images = self.image_tokens if sample.media is not None else 0
        return images + len(self.prompt_ids(sample)) + len(self.target_ids(sample.target))

