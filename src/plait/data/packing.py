"""Padding-free batches: a batch's sequences laid end to end in one row, positions restarting per sequence.

transformers' DataCollatorWithFlattening does the token part (input_ids, labels with -100 at each
sequence start, position_ids); the family's own collator supplies the rest (pixels, features). With
position ids and no attention mask, transformers' attention keeps sequences apart: a varlen kernel
with flash attention, a block-diagonal causal mask with sdpa or eager.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

import torch
from transformers import DataCollatorWithFlattening

from plait.errors import UserError

TOKEN_KEYS = ("input_ids", "attention_mask", "labels")


class FlatteningCollator:
    """Wraps a family's right-padding collator; returns a (1, total tokens) batch without padding."""

    def __init__(self, collate: Callable[[list[dict[str, Any]]], dict[str, torch.Tensor]]) -> None:
        self.collate = collate
        self.flatten = DataCollatorWithFlattening(return_position_ids=True, separator_id=-100)

    def __call__(self, batch: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        rest = {k: v for k, v in self.collate(batch).items() if k not in TOKEN_KEYS}
        tokens = self.flatten([{"input_ids": b["input_ids"], "labels": b["labels"]} for b in batch])
        return {**tokens, **rest}


def check_padding_free(model: torch.nn.Module) -> None:
    """Refuse models whose forward takes no position ids (they cannot keep packed sequences apart)."""
    if "position_ids" not in inspect.signature(model.forward).parameters:
        raise UserError(f"train.padding_free: {type(model).__name__} takes no position_ids, so packed sequences "
                        "would attend to each other; use it with decoder-only families (projector), or set train.padding_free false")
