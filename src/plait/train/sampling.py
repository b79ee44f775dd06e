"""Length-grouped sampling with lengths known up front.

transformers' Trainer groups by length with its LengthGroupedSampler, but outside a `datasets.Dataset`
it learns the lengths by encoding every sample (images included) before the first step. The family's
processor can count tokens without loading any media, so this Trainer hands those counts over.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import Trainer
from transformers.trainer_pt_utils import LengthGroupedSampler


class LengthAwareTrainer(Trainer):
    """transformers' Trainer; with `lengths`, its group_by_length sampler uses them instead of encoding the data."""

    def __init__(self, *args: Any, lengths: list[int] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lengths = lengths

    def _get_train_sampler(self, train_dataset: Any = None) -> torch.utils.data.Sampler | None:
        if self.lengths is None or self.args.train_sampling_strategy != "group_by_length":
            return super()._get_train_sampler(train_dataset)
        return LengthGroupedSampler(self.args.train_batch_size * self.args.gradient_accumulation_steps,
                                    lengths=self.lengths)
