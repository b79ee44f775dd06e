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


def apply_trainable(model: nn.Module, groups: dict[str, list[nn.Parameter]], parts: list[str]) -> int:
    """Train exactly the parameters of the named groups; return their count, checked against the model's."""
    unknown = sorted(set(parts) - set(groups))
    if unknown:
        raise ValueError(f"unknown parameter groups {unknown}; known: {sorted(groups)}")
    set_trainable(model, False)
    chosen = {id(p): p for part in parts for p in groups[part]}
    for p in chosen.values():
        p.requires_grad_(True)
    expected = sum(p.numel() for p in chosen.values())
    got = count_parameters(model)["trainable"]
    if got != expected:
        raise RuntimeError(f"training {parts} made {got} parameters trainable, expected {expected}")
    return got
