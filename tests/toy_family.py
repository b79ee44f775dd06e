"""A model family written in the test folder alone: answers a shapes question from the image's mean colour.

It proves the family contract: registering this file's FamilySpec is all it takes for validate, run, eval,
ls and summarize to work on it (tests/integration/test_toy_family.py). Nothing under src/ names it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image
from pydantic import Field
from safetensors.torch import load_file, save_file
from torch import nn
from transformers.modeling_outputs import ModelOutput

from plait.data.sample import Sample
from plait.models.config import FamilyConfig
from plait.models.family import BuildOptions, Built, Family
from plait.models.registry import Capabilities, FamilySpec


class ToyModelConfig(FamilyConfig):
    """Mean pixel colour + question words -> one answer word."""

    family: Literal["toy"] = "toy"
    """Model family (the discriminator)."""
    hidden: int = Field(16, ge=1)
    """Width of the hidden layer."""


class ToyProcessor:
    """Images to 3 mean colours plus 4 spatial means; a question to a bag of hashed words; answers to ids."""

    features = None
    max_positions = None
    tokenizer = None

    def __init__(self, answers: list[str]) -> None:
        self.answers = answers

    def _inputs(self, sample: Sample) -> torch.Tensor:
        pixels = np.asarray(Image.open(sample.media).convert("RGB").resize((8, 8)), dtype=np.float32) / 255
        quads = [pixels[:4, :4], pixels[:4, 4:], pixels[4:, :4], pixels[4:, 4:]]
        words = np.zeros(16, dtype=np.float32)
        for word in sample.prompt.split():
            words[sum(map(ord, word)) % 16] = 1.0
        return torch.from_numpy(np.concatenate([pixels.mean((0, 1)), [q.std() for q in quads], words]))

    def encode_train(self, sample: Sample) -> dict[str, Any]:
        answer = self.answers.index(sample.target) if sample.target in self.answers else -100
        return {"inputs": self._inputs(sample), "labels": answer}

    def encode_train_many(self, samples: list[Sample]) -> list[dict[str, Any]]:
        return [self.encode_train(s) for s in samples]

    def collate(self, batch: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        return {"inputs": torch.stack([b["inputs"] for b in batch]),
                "labels": torch.tensor([[b["labels"]] for b in batch])}

    def encode_prompt(self, sample: Sample) -> dict[str, Any]:
        return {"inputs": self._inputs(sample)}

    def encode_prompt_many(self, samples: list[Sample]) -> list[dict[str, Any]]:
        return [self.encode_prompt(s) for s in samples]

    def collate_prompts(self, batch: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        return {"inputs": torch.stack([b["inputs"] for b in batch])}

    def decode(self, ids: torch.Tensor) -> list[str]:
        return [self.answers[int(i)] for i in ids[:, 0]]

    def target_length(self, text: str) -> int:
        return 1

    def length(self, sample: Sample) -> int:
        return 1

    def prepare_training(self, samples: list[Sample]) -> int:
        return 0

    def save(self, folder: Path) -> None:
        (folder / "answers.json").write_text(json.dumps(self.answers))


class ToyNet(nn.Module):
    def __init__(self, answers: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(23, hidden), nn.ReLU(), nn.Linear(hidden, answers))

    def forward(self, inputs: torch.Tensor, labels: torch.Tensor | None = None, **_: Any) -> ModelOutput:
        logits = self.net(inputs)
        loss = nn.functional.cross_entropy(logits, labels[:, 0], ignore_index=-100) if labels is not None else None
        return ModelOutput(loss=loss, logits=logits)

    @torch.no_grad()
    def generate(self, inputs: torch.Tensor, **_: Any) -> torch.Tensor:
        return self.net(inputs).argmax(-1, keepdim=True)


class ToyFamily(Family):
    name = "toy"

    def build(self, cfg: ToyModelConfig, train_samples: list[Sample], options: BuildOptions) -> Built:
        answers = sorted({s.target for s in train_samples})
        return Built(ToyNet(len(answers), cfg.hidden), ToyProcessor(answers), {"answers": len(answers)})

    def save(self, built: Built, cfg: ToyModelConfig, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        save_file(built.model.state_dict(), str(folder / "model.safetensors"))
        built.processor.save(folder)
        (folder / "plait_model.json").write_text(json.dumps({"family": "toy", "model": cfg.model_dump(mode="json")}))

    def load(self, folder: Path, cfg: ToyModelConfig | None = None, options: BuildOptions = BuildOptions()) -> Built:
        saved = ToyModelConfig.model_validate(json.loads((folder / "plait_model.json").read_text())["model"])
        answers = json.loads((folder / "answers.json").read_text())
        model = ToyNet(len(answers), saved.hidden)
        model.load_state_dict(load_file(str(folder / "model.safetensors")))
        return Built(model, ToyProcessor(answers))

    def check(self, sample: Sample) -> str | None:
        return None if sample.media is not None and sample.media.is_file() else "no image"


TOY = ToyFamily()
SPEC = FamilySpec("toy", ToyModelConfig, "toy_family:TOY", Capabilities(chat_media=("image",)),
                  "test-only: answers shapes questions from mean colours")
