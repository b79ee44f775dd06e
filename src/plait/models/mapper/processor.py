"""Turns samples into the mapper family's tensors: frames, encoder-prompt ids, decoder ids and labels."""

from __future__ import annotations

import json
from dataclasses import asdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.nn.utils.rnn import pad_sequence

from plait.data.collate import mask, pad
from plait.data.sample import Sample
from plait.models.components.text import TextProcessor
from plait.models.mapper.signal import SignalSettings, read_signal


def pad_frames(frames: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(batch, longest, features) right-padded with zeros (torch's pad_sequence), and its (batch, longest) mask."""
    out = pad_sequence(frames, batch_first=True).to(torch.get_default_dtype())
    lengths = torch.tensor([len(f) for f in frames], dtype=torch.long)
    return out, (torch.arange(out.shape[1]) < lengths[:, None]).long()


class MapperProcessor(TextProcessor):
    """Tokenizer + signal reading settings + the decoder's start token."""

    def __init__(self, tokenizer: Any, settings: SignalSettings, decoder_start_id: int, input_dim: int) -> None:
        super().__init__(tokenizer)
        self.settings = settings
        self.decoder_start_id = decoder_start_id
        self.input_dim = input_dim

    def frames(self, sample: Sample) -> torch.Tensor:
        """The sample's (frames, features) tensor; a wrong feature size names the file."""
        frames = torch.from_numpy(read_signal(sample, self.settings))
        if frames.shape[-1] != self.input_dim:
            raise ValueError(f"{sample.media}: {frames.shape[-1]} features per frame; the model takes {self.input_dim}")
        return frames

    def encode_prompt(self, sample: Sample) -> dict[str, Any]:
        """Frames, encoder-prompt ids, and the decoder's start token + decoder prompt."""
        return self._prompt_item(sample, self._ids)

    def encode_prompt_many(self, samples: list[Sample]) -> list[dict[str, Any]]:
        """What encode_prompt gives each sample, with the batch's prompts through one tokenizer call (signals are read
        one by one, as encode_train_many reads them: .npy and cached .pose files have no batched reader)."""
        ids = self._lookup([t for s in samples for t in (s.prompt, s.decoder_prompt)])
        return [self._prompt_item(s, ids) for s in samples]

    def _prompt_item(self, sample: Sample, ids: Callable[[str], list[int]]) -> dict[str, Any]:
        return {"features": self.frames(sample), "prompt_ids": ids(sample.prompt),
                "decoder_ids": [self.decoder_start_id] + ids(sample.decoder_prompt)}

    def _lookup(self, texts: list[str]) -> Callable[[str], list[int]]:
        """`_ids` for these texts, all of them tokenised in one call."""
        known = self._ids_many(texts)
        return lambda text: known[text] if text else []

    def length(self, sample: Sample) -> int:
        """Frames of the signal: the encoder's sequence, which dominates the cost of a batch."""
        return int(self.frames(sample).shape[0])

    def encode_train(self, sample: Sample) -> dict[str, Any]:
        """Decoder input is start + decoder prompt + target; the forced prompt is not scored."""
        return self._train_item(sample, self._ids)

    def encode_train_many(self, samples: list[Sample]) -> list[dict[str, Any]]:
        """What encode_train gives each sample, with the batch's prompts and targets through one tokenizer call."""
        ids = self._lookup([t for s in samples for t in (s.prompt, s.decoder_prompt, s.target)])
        return [self._train_item(s, ids) for s in samples]

    def _train_item(self, sample: Sample, ids: Callable[[str], list[int]]) -> dict[str, Any]:
        target = ids(sample.target) + [self.tokenizer.eos_token_id]
        item = self._prompt_item(sample, ids)
        decoder = item["decoder_ids"]
        return item | {"decoder_ids": decoder + target[:-1], "labels": [-100] * (len(decoder) - 1) + target}

    def _encoder(self, batch: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        features, feature_mask = pad_frames([b["features"] for b in batch])
        prompts = [b["prompt_ids"] for b in batch]
        return {"features": features, "feature_mask": feature_mask,
                "prompt_ids": pad(prompts, self.pad_id, "left"), "prompt_mask": mask(prompts, "left")}

    def collate(self, batch: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """Training batch: decoder sequences right-padded."""
        decoder = [b["decoder_ids"] for b in batch]
        out = self._encoder(batch) | {"decoder_input_ids": pad(decoder, self.pad_id),
                                      "decoder_attention_mask": mask(decoder)}
        if "labels" in batch[0]:
            out["labels"] = pad([b["labels"] for b in batch], -100)
        return out

    def collate_prompts(self, batch: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """Generation batch: decoder prompts left-padded so generation continues every row at the same place."""
        decoder = [b["decoder_ids"] for b in batch]
        return self._encoder(batch) | {"decoder_input_ids": pad(decoder, self.pad_id, "left"),
                                       "decoder_attention_mask": mask(decoder, "left")}

    def save(self, folder: Path) -> None:
        """The tokenizer, and the reading settings as JSON."""
        self.tokenizer.save_pretrained(folder)
        meta = {"signal": asdict(self.settings), "decoder_start_id": self.decoder_start_id,
                "input_dim": self.input_dim}
        (folder / "mapper_processor.json").write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, folder: Path, tokenizer: Any) -> MapperProcessor:
        """The processor `save` wrote, around an already loaded tokenizer."""
        meta = json.loads((folder / "mapper_processor.json").read_text())
        return cls(tokenizer, SignalSettings(**meta["signal"]), meta["decoder_start_id"], meta["input_dim"])
