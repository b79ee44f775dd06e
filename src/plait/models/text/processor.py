"""Samples -> batches for the text family: causal LM, masked LM (transformers' masking) and classification."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import DataCollatorForLanguageModeling, DataCollatorWithPadding

from plait.data.collate import mask, pad
from plait.data.sample import Sample
from plait.errors import UserError
from plait.models.components.text import TextProcessor


@dataclass(frozen=True)
class TextSettings:
    """What the processor needs from the config, as plain values."""

    task: str
    max_length: int
    mlm_probability: float = 0.15
    mask_replace_prob: float = 0.8
    random_replace_prob: float = 0.1
    labels: tuple[str, ...] = ()
    problem: str = "single_label"


def sample_text(sample: Sample) -> str:
    """The text a language model reads from a sample: prompt and target, in that order."""
    return " ".join(part for part in (sample.prompt, sample.target) if part)


def sample_labels(sample: Sample) -> list[str]:
    """A multi-label sample's label names: meta['labels'], else the comma-separated target."""
    given = sample.meta.get("labels")
    if given is not None:
        return [str(x) for x in given]
    return [x.strip() for x in sample.target.split(",") if x.strip()]


def is_labelled(sample: Sample) -> bool:
    """Whether the sample carries a label (GLUE test rows have none)."""
    return bool(sample.target.strip()) or bool(sample.meta.get("labels"))


class TextModelProcessor(TextProcessor):
    """Tokenizer + settings; `collate` gives the batch `model(**batch)` computes its loss from."""

    def __init__(self, tokenizer: Any, settings: TextSettings) -> None:
        super().__init__(tokenizer)
        self.settings = settings
        if settings.task == "masked_lm":
            self.masker = self.mlm_collator(seed=None)
        self.padder = DataCollatorWithPadding(tokenizer)

    def mlm_collator(self, seed: int | None) -> DataCollatorForLanguageModeling:
        """transformers' masking collator with the configured rates; a seed fixes the masks (evaluation)."""
        s = self.settings
        return DataCollatorForLanguageModeling(self.tokenizer, mlm=True, mlm_probability=s.mlm_probability,
                                               mask_replace_prob=s.mask_replace_prob,
                                               random_replace_prob=s.random_replace_prob, seed=seed)

    def _encode(self, text: str, pair: str | None = None) -> dict[str, list[int]]:
        return dict(self.tokenizer(text, pair, truncation=True, max_length=self.settings.max_length))

    def label_value(self, sample: Sample) -> Any:
        """The `labels` entry of a classification sample (-100 / NaN when unlabelled; -100 for a single label the
        model has no class for, which only a held-out sample can have: evaluation leaves it out and counts it)."""
        s = self.settings
        if s.problem == "regression":
            return float(sample.target) if is_labelled(sample) else float("nan")
        if s.problem == "multi_label":
            names = set(sample_labels(sample))
            return [1.0 if name in names else 0.0 for name in s.labels]
        return s.labels.index(sample.target) if is_labelled(sample) and sample.target in s.labels else -100

    def encode_train(self, sample: Sample) -> dict[str, Any]:
        """Token ids (and, for classification, the label); LM labels are made at collate time."""
        if self.settings.task == "classification":
            return self._encode(sample.prompt, sample.meta.get("text_pair")) | {"labels": self.label_value(sample)}
        ids = self._encode(sample_text(sample))["input_ids"]
        eos = self.tokenizer.eos_token_id
        if self.settings.task == "causal_lm" and eos is not None and ids[-1:] != [eos]:
            ids = ids[: self.settings.max_length - 1] + [eos]
        return {"input_ids": ids}

    def truncated(self, sample: Sample) -> bool:
        """Whether the sample's text is longer than max_length tokens (scored on its first max_length only)."""
        text = sample.prompt if self.settings.task == "classification" else sample_text(sample)
        pair = sample.meta.get("text_pair") if self.settings.task == "classification" else None
        return len(self.tokenizer(text, pair)["input_ids"]) > self.settings.max_length

    def length(self, sample: Sample) -> int:
        """Tokens in the sample's training input."""
        return len(self.encode_train(sample)["input_ids"])

    def perplexity_scoring(self, mask_seed: int) -> tuple[str, int | None, Any]:
        """Causal LMs: every next token; masked LMs: the tokens masked with the seed `mask_seed`."""
        task = self.settings.task
        if task not in ("causal_lm", "masked_lm"):
            raise UserError(f"eval.task: perplexity needs a causal_lm or masked_lm model, not {task}")
        return (task, 0, self.mlm_collator(seed=mask_seed)) if task == "masked_lm" else (task, 1, None)

    def scoring_batch(self, batch: list[dict[str, Any]], masker: Any) -> dict[str, torch.Tensor]:
        return self.collate(batch, masker)

    def collate(self, batch: list[dict[str, Any]], masker: Any = None) -> dict[str, torch.Tensor]:
        """Training batch: padded ids, mask, and labels (-100 where no loss is taken)."""
        task = self.settings.task
        if task == "masked_lm":
            return (masker or self.masker)([{"input_ids": b["input_ids"]} for b in batch])
        if task == "classification":
            out = self.padder(batch)
            if self.settings.problem != "single_label":
                out["labels"] = out["labels"].float()
            return out
        ids = [b["input_ids"] for b in batch]
        return {"input_ids": pad(ids, self.pad_id), "attention_mask": mask(ids),
                "labels": pad(ids, -100)}

    def encode_prompt(self, sample: Sample) -> dict[str, Any]:
        """The prompt's ids, for generation (causal LM)."""
        ids = self.tokenizer(sample.prompt, truncation=True, max_length=self.settings.max_length)["input_ids"]
        return {"input_ids": ids}

    def encode_prompt_many(self, samples: list[Sample]) -> list[dict[str, Any]]:
        """Each prompt's ids, the batch through one tokenizer call (a fast tokenizer encodes, truncates and adds the
        special tokens of each text independently: what one call per text gives)."""
        texts = [s.prompt for s in samples]
        found = self.tokenizer(texts, truncation=True, max_length=self.settings.max_length)["input_ids"] if texts else []
        return [{"input_ids": ids} for ids in found]

    def collate_prompts(self, batch: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """Prompts left-padded so generation continues every row at the same place."""
        ids = [b["input_ids"] for b in batch]
        return {"input_ids": pad(ids, self.pad_id, "left"), "attention_mask": mask(ids, "left")}

    def save(self, folder: Path) -> None:
        """The tokenizer, and the settings as JSON."""
        self.tokenizer.save_pretrained(folder)
        (folder / "text_processor.json").write_text(json.dumps(asdict(self.settings), indent=2))

    @classmethod
    def load(cls, folder: Path, tokenizer: Any) -> "TextModelProcessor":
        """The processor `save` wrote, around an already loaded tokenizer."""
        meta = json.loads((folder / "text_processor.json").read_text())
        meta["labels"] = tuple(meta["labels"])
        return cls(tokenizer, TextSettings(**meta))
