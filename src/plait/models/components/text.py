"""The text side every family's processor shares: token ids, targets with EOS, decoding."""

from __future__ import annotations

from typing import Any, Callable

import torch

from plait.data.collate import mask, pad


class TextProcessor:
    """A tokenizer, and what each family does the same way with it (the text side of the Processor protocol)."""

    features: Any = None
    """A frozen-encoder feature cache, or None (families with one set it)."""
    max_positions: int | None = None
    """Most positions the model takes (chat warns beyond it), when known."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"] if text else []

    def _ids_many(self, texts: list[str]) -> dict[str, list[int]]:
        """Each distinct non-empty text's ids, from one tokenizer call (a fast tokenizer encodes the batch in Rust,
        each text independently: the ids `_ids` gives it)."""
        unique = list(dict.fromkeys(t for t in texts if t))
        return dict(zip(unique, self.tokenizer(unique, add_special_tokens=False)["input_ids"])) if unique else {}

    def joined_many(self, parts: list[list[str | list[int]]]) -> list[list[int]]:
        """Each sequence of parts (texts still to tokenise, and ids) end to end, every text of the batch through
        one tokenizer call: what `joined` gives each, faster."""
        known = self._ids_many([part for row in parts for part in row if isinstance(part, str)])
        return [joined(row, lambda text: known[text] if text else []) for row in parts]

    def sides_many(self, samples: list[Any], *sides: Callable[[Any], list[str | list[int]]]) -> list[list[list[int]]]:
        """For each side (a function giving a sample's parts: its prompt's, its target's), every sample's ids, all
        texts of all sides through one tokenizer call (`joined_many`)."""
        rows = self.joined_many([side(sample) for side in sides for sample in samples])
        return [rows[i * len(samples):(i + 1) * len(samples)] for i in range(len(sides))]

    def target_ids(self, text: str) -> list[int]:
        """The target's tokens followed by EOS."""
        return self._ids(text) + [self.tokenizer.eos_token_id]

    def target_length(self, text: str) -> int:
        """Tokens the model must produce for `text`, EOS included."""
        return len(self.target_ids(text))

    def decode(self, ids: torch.Tensor) -> list[str]:
        """Generated ids to text, special tokens (tags included) dropped."""
        return [t.strip() for t in self.tokenizer.batch_decode(ids, skip_special_tokens=True)]

    def length(self, sample: Any) -> int:
        """Tokens of the encoded training sample (group_by_length sorts by it)."""
        return len(self.encode_train(sample)["input_ids"])

    def encode_train_many(self, samples: list[Any]) -> list[dict[str, Any]]:
        """A batch's training examples, each what `encode_train` gives for it (families with media override this
        to process a batch's media in one call)."""
        return [self.encode_train(sample) for sample in samples]

    def encode_prompt_many(self, samples: list[Any]) -> list[dict[str, Any]]:
        """A batch's prompts, each what `encode_prompt` gives for it (families with media or text override this to
        encode a batch's texts and media in one call each)."""
        return [self.encode_prompt(sample) for sample in samples]  # type: ignore[attr-defined]

    def prepare_training(self, samples: list[Any]) -> int:
        """Work done once before training; nothing by default."""
        return 0

    def perplexity_scoring(self, mask_seed: int) -> tuple[str, int | None, Any]:
        """What evaluation task `perplexity` scores: (name, label shift or None to take the model's
        `label_shift`, a collator that masks tokens, drawn from `mask_seed`, or None). By default each
        sample's target tokens."""
        return "targets", None, None

    def scoring_batch(self, batch: list[dict[str, Any]], masker: Any) -> dict[str, torch.Tensor]:
        """The batch perplexity scores: the training batch (`masker` is for the text family's masked LM)."""
        return self.collate(batch)  # type: ignore[attr-defined]

    def text_batch(self, batch: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """The text side of a training batch: right-padded ids, their mask, labels padded with -100."""
        ids = [b["input_ids"] for b in batch]
        out = {"input_ids": pad(ids, self.pad_id), "attention_mask": mask(ids)}
        if "labels" in batch[0]:
            out["labels"] = pad([b["labels"] for b in batch], -100)
        return out

    def prompt_batch(self, batch: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """The text side of a generation batch: left-padded prompt ids and their mask."""
        ids = [b["input_ids"] for b in batch]
        return {"input_ids": pad(ids, self.pad_id, "left"), "attention_mask": mask(ids, "left")}


def joined(parts: list[str | list[int]], ids: Callable[[str], list[int]]) -> list[int]:
    """The ids of `parts` end to end, texts tokenised by `ids`."""
    return [i for part in parts for i in (ids(part) if isinstance(part, str) else part)]
