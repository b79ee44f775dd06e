"""Batched generation over samples with explicit settings and a progress bar."""

from __future__ import annotations

import math
from typing import Any

import torch
from tqdm.auto import tqdm

from plait.data.sample import Sample


def derive_max_new_tokens(processor: Any, samples: list[Sample]) -> int:
    """The longest target (in tokens, EOS included) plus 25%, so no reference is cut short."""
    longest = max((processor.target_length(s.target) for s in samples), default=16)
    return max(4, math.ceil(longest * 1.25))


def model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def generate(
    model: torch.nn.Module, processor: Any, samples: list[Sample], max_new_tokens: int,
    num_beams: int = 1, batch_size: int = 32, progress: bool = True, **extra: Any,
) -> list[str]:
    """Generated text for each sample, in order."""
    was_training = model.training
    model.eval()
    device = model_device(model)
    outputs: list[str] = []
    settings = dict(max_new_tokens=max_new_tokens, num_beams=num_beams, do_sample=False, **extra)
    try:
        bar = tqdm(total=len(samples), desc="generate", unit="sample", disable=not progress, leave=False)
        for start in range(0, len(samples), batch_size):
            chunk = samples[start:start + batch_size]
            batch = processor.collate_prompts(processor.encode_prompt_many(chunk))
            batch = {k: v.to(device) for k, v in batch.items()}
            ids = model.generate(**batch, **settings)
            outputs.extend(processor.decode(ids))
            bar.update(len(chunk))
        bar.close()
    finally:
        model.train(was_training)
    return outputs


@torch.no_grad()
def mean_loss(model: torch.nn.Module, processor: Any, samples: list[Sample], batch_size: int = 32) -> float:
    """Token-weighted mean loss over samples."""
    was_training = model.training
    model.eval()
    device = model_device(model)
    total, count = 0.0, 0
    try:
        for start in range(0, len(samples), batch_size):
            batch = processor.collate(processor.encode_train_many(samples[start:start + batch_size]))
            batch = {k: v.to(device) for k, v in batch.items()}
            tokens = int((batch["labels"] != -100).sum())
            total += float(model(**batch).loss) * tokens
            count += tokens
    finally:
        model.train(was_training)
    return total / max(count, 1)
