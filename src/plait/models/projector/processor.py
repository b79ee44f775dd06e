"""Turns samples into the projector family's tensors: token ids with image tokens, labels, pixels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from plait.data.collate import mask, pad
from plait.data.modalities.image import pixel_values, pixel_values_many
from plait.data.sample import Sample
from plait.models.components.text import TextProcessor, joined


class ProjectorProcessor(TextProcessor):
    """Tokenizer + image processor + the rule for where image tokens go."""

    def __init__(
        self, tokenizer: Any, image_processor: Any, image_token: str, num_image_tokens: int,
        placement: str = "placeholder", prefix: str = "", suffix: str = "", features: Any = None,
    ) -> None:
        super().__init__(tokenizer)
        # a FeatureCache (or None): training samples then carry the frozen encoder's stored outputs, not pixels
        self.features = features
        self.image_processor = image_processor
        self.image_token = image_token
        self.image_token_id = tokenizer.convert_tokens_to_ids(image_token)
        self.num_image_tokens = num_image_tokens
        self.placement = placement
        self.prefix = prefix
        self.suffix = suffix

    def prompt_parts(self, sample: Sample) -> list[str | list[int]]:
        """The prompt in order as texts still to tokenise and ids: BOS, the prompt with the image tokens in place."""
        image = [self.image_token_id] * self.num_image_tokens if sample.media is not None else []
        bos = [self.tokenizer.bos_token_id] if self.tokenizer.bos_token_id is not None else []
        if self.placement == "between":
            return [bos, self.prefix, image, self.suffix, sample.prompt.replace(self.image_token, "")]
        before, found, after = sample.prompt.partition(self.image_token)
        if not found:
            before, after = "", sample.prompt
        return [bos, before, image, after]

    def prompt_ids(self, sample: Sample) -> list[int]:
        """BOS, then the prompt with the image tokens in place."""
        return joined(self.prompt_parts(sample), self._ids)

    def pixels(self, sample: Sample) -> torch.Tensor | None:
        return pixel_values(self.image_processor, sample.media)

    def encode_train(self, sample: Sample) -> dict[str, Any]:
        if self.features is not None and sample.media is not None:
            images = {"pixel_values": None, "vision_features": self.features.get(sample.media)}
        else:
            images = {"pixel_values": self.pixels(sample)}
        return _item(self.prompt_ids(sample), self.target_ids(sample.target), images)

    def encode_train_many(self, samples: list[Sample]) -> list[dict[str, Any]]:
        """What encode_train gives each sample, with the batch's texts through one tokenizer call and its images
        through one image-processor call (with a feature cache: the stored features, no image processed)."""
        eos = [self.tokenizer.eos_token_id]
        prompts, targets = self.sides_many(samples, self.prompt_parts, lambda s: [s.target, eos])
        if self.features is None:
            images = [{"pixel_values": p} for p in self.pixels_many(samples)]
        else:
            images = [{"pixel_values": None, "vision_features": self.features.get(s.media)} if s.media is not None
                      else {"pixel_values": None} for s in samples]
        return [_item(prompt, target, image) for prompt, target, image in zip(prompts, targets, images)]

    def pixels_many(self, samples: list[Sample]) -> list[torch.Tensor | None]:
        """Each sample's `pixels`, the batch's images through one image-processor call."""
        return pixel_values_many(self.image_processor, [s.media for s in samples])

    def prepare_training(self, samples: list[Sample]) -> int:
        """Fill the feature cache for `samples` in batches (when there is one); return how many were computed."""
        if self.features is None:
            return 0
        return self.features.fill(s.media for s in samples if s.media is not None)

    def length(self, sample: Sample) -> int:
        """Tokens of the encoded training sample (image tokens included), without loading its image."""
        return len(self.prompt_ids(sample)) + len(self.target_ids(sample.target))

    def encode_prompt(self, sample: Sample) -> dict[str, Any]:
        return {"input_ids": self.prompt_ids(sample), "pixel_values": self.pixels(sample)}

    def encode_prompt_many(self, samples: list[Sample]) -> list[dict[str, Any]]:
        """What encode_prompt gives each sample, with the batch's texts through one tokenizer call and its images
        through one image-processor call (encode_train_many without targets or feature cache: prompts take pixels)."""
        [prompts] = self.sides_many(samples, self.prompt_parts)
        return [{"input_ids": ids, "pixel_values": p} for ids, p in zip(prompts, self.pixels_many(samples))]

    def collate(self, batch: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """Right-padded training batch."""
        ids = [b["input_ids"] for b in batch]
        out = {"input_ids": pad(ids, self.pad_id), "attention_mask": mask(ids)}
        if "labels" in batch[0]:
            out["labels"] = pad([b["labels"] for b in batch], -100)
        pixels = [b["pixel_values"] for b in batch if b["pixel_values"] is not None]
        if pixels:
            out["pixel_values"] = torch.stack(pixels)
        features = [b["vision_features"] for b in batch if b.get("vision_features") is not None]
        if features:
            out["vision_features"] = torch.stack(features)
        return out

    def collate_prompts(self, batch: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """Left-padded prompts for generation."""
        ids = [b["input_ids"] for b in batch]
        out = {"input_ids": pad(ids, self.pad_id, "left"), "attention_mask": mask(ids, "left")}
        pixels = [b["pixel_values"] for b in batch if b["pixel_values"] is not None]
        if pixels:
            out["pixel_values"] = torch.stack(pixels)
        return out

    def save(self, folder: Path) -> None:
        self.tokenizer.save_pretrained(folder)
        self.image_processor.save_pretrained(folder)


def _item(prompt: list[int], target: list[int], images: dict[str, Any]) -> dict[str, Any]:
    """A training example: prompt and target ids, loss on the target only, and the image inputs."""
    return {"input_ids": prompt + target, "labels": [-100] * len(prompt) + target, **images}
