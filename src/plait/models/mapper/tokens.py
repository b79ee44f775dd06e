"""New vocabulary: language and task tags such as __dgs__ and __de__, added with deterministic initialisation."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from plait.data.sample import Sample

TAG = re.compile(r"__\S+__")


def prompt_tags(samples: Iterable[Sample], extra: Iterable[str] = ()) -> list[str]:
    """Sorted `__xx__` words of the encoder and decoder prompts, plus `extra`."""
    found = {word for s in samples for text in (s.prompt, s.decoder_prompt) for word in text.split()
             if TAG.fullmatch(word)}
    return sorted(found | set(extra))


def add_tokens(tokenizer: Any, tokens: list[str]) -> list[str]:
    """Add the tokens the tokenizer does not have as single tokens; return those added, in order."""
    vocab = tokenizer.get_vocab()
    new = [t for t in tokens if t not in vocab]
    if new:
        tokenizer.add_tokens(new, special_tokens=True)
    return new


@torch.no_grad()
def init_rows(weight: torch.Tensor, rows: list[int], how: str, std: float = 0.02) -> None:
    """Fill embedding rows: 'mean' = mean of the other rows + noise of 1% of their spread; 'normal' = N(0, std).

    Draws from torch's global generator, so the experiment seed fixes the values.
    """
    if not rows:
        return
    index = torch.tensor(rows, device=weight.device)
    if how == "mean":
        keep = torch.ones(weight.shape[0], dtype=torch.bool, device=weight.device)
        keep[index] = False
        others = weight[keep].float()
        mean, spread = others.mean(dim=0), others.std(dim=0)
        noise = torch.randn(len(rows), weight.shape[1]).to(weight.device)
        weight[index] = (mean + 0.01 * spread * noise).to(weight.dtype)
    else:
        weight[index] = (torch.randn(len(rows), weight.shape[1]) * std).to(weight.device, weight.dtype)


def extend_embeddings(model: nn.Module, tokenizer: Any, new_tokens: list[str], how: str) -> None:
    """Grow the input (and untied output) embeddings to the tokenizer and initialise the new tokens' rows."""
    if len(tokenizer) > model.get_input_embeddings().num_embeddings:
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    rows = tokenizer.convert_tokens_to_ids(new_tokens)
    init_rows(model.get_input_embeddings().weight, rows, how)
    output = model.get_output_embeddings()
    if output is not None and output.weight is not model.get_input_embeddings().weight:
        init_rows(output.weight, rows, how)
