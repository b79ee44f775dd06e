"""Padding helpers shared by the families' collators."""

from __future__ import annotations

import torch


def pad(sequences: list[list[int]], value: int, side: str = "right") -> torch.Tensor:
    """A (batch, longest) tensor of token ids padded with `value` on the given side."""
    width = max(len(s) for s in sequences)
    out = torch.full((len(sequences), width), value, dtype=torch.long)
    for i, seq in enumerate(sequences):
        if not seq:
            continue
        if side == "right":
            out[i, : len(seq)] = torch.tensor(seq)
        else:
            out[i, width - len(seq):] = torch.tensor(seq)
    return out


def mask(sequences: list[list[int]], side: str = "right") -> torch.Tensor:
    """The attention mask matching `pad` (from the lengths in one comparison, not a padded list of ones)."""
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
    width = int(lengths.max()) if len(sequences) else 0
    positions = torch.arange(width)
    keep = positions < lengths[:, None] if side == "right" else positions >= width - lengths[:, None]
    return keep.long()
