"""Freezing and trainable-parameter accounting."""

from __future__ import annotations

from torch import nn


def set_trainable(module: nn.Module, trainable: bool) -> None:
    """Turn gradients on or off for every parameter of `module`."""
    for p in module.parameters():
        p.requires_grad_(trainable)


def count_parameters(module: nn.Module) -> dict[str, int]:
    """Total and trainable parameter counts."""
    total = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return {"total": total, "trainable": trainable}
