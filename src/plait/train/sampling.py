"""Length-grouped sampling with lengths known up front, drawn from the seed and the epoch.

transformers' Trainer groups by length with its LengthGroupedSampler, but outside a `datasets.Dataset`
it learns the lengths by encoding every sample (images included) before the first step. The family's
processor can count tokens without loading any media, so this Trainer hands those counts over. That
sampler also draws from the global RNG, whose state when an epoch starts differs after a resume; here
each epoch's order comes from seed + epoch, as accelerate's seedable sampler does for random order.
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
        seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
        return SeededLengthGroupedSampler(self.args.train_batch_size * self.args.gradient_accumulation_steps,
                                          self.lengths, seed)


class SeededLengthGroupedSampler(LengthGroupedSampler):
    """LengthGroupedSampler whose order depends only on (seed, epoch): the same on every rank and after a resume."""

    def __init__(self, batch_size: int, lengths: list[int], seed: int) -> None:
        super().__init__(batch_size, lengths=lengths)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Called by accelerate's data loader at the start of each epoch."""
        self.epoch = epoch

    def __iter__(self):
        self.generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return super().__iter__()
