"""Checkpoint averaging: the element-wise mean of the last N complete checkpoints' weights."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file

from plait.models.components.tied import tied_aliases
from plait.runs.rundir import RunDir


def checkpoint_weights(folder: Path) -> dict[str, torch.Tensor]:
    """The weights in a checkpoint folder: model.safetensors, or the shards its index lists."""
    single = folder / "model.safetensors"
    if single.exists():
        return load_file(single)
    index = folder / "model.safetensors.index.json"
    if index.exists():
        weights: dict[str, torch.Tensor] = {}
        for shard in sorted(set(json.loads(index.read_text())["weight_map"].values())):
            weights.update(load_file(folder / shard))
        return weights
    raise FileNotFoundError(f"{folder}: no model.safetensors (or shard index) to average")


def mean_weights(folders: list[Path]) -> dict[str, torch.Tensor]:
    """Float tensors averaged in float32 and cast back; other tensors (step counters, ids) from the newest."""
    sums: dict[str, torch.Tensor] = {}
    newest: dict[str, torch.Tensor] = {}
    for folder in folders:
        weights = checkpoint_weights(folder)
        if sums and set(weights) != set(newest):
            raise ValueError(f"{folder}: holds other tensors than {folders[0]}; cannot average them")
        for name, tensor in weights.items():
            newest[name] = tensor
            if tensor.is_floating_point():
                sums[name] = sums.get(name, 0) + tensor.float()
    return {name: (sums[name] / len(folders)).to(t.dtype) if name in sums else t for name, t in newest.items()}


def average_into(model: torch.nn.Module, folders: list[Path]) -> None:
    """Load the mean of the checkpoints' weights into `model`; every parameter must be covered."""
    averaged = mean_weights(folders)
    missing, unexpected = model.load_state_dict(averaged, strict=False)
    missing = set(missing) - tied_aliases(model)
    if missing or unexpected:
        raise ValueError(f"checkpoints do not match the model (missing {sorted(missing)[:3]}, "
                         f"unexpected {sorted(unexpected)[:3]})")


def average_last_checkpoints(run: RunDir, model: torch.nn.Module, n: int) -> list[int]:
    """Average the last `n` complete checkpoints of `run` into `model`; return their steps (may be fewer than n)."""
    folders = run.complete_checkpoints()[-n:]
    if folders:
        average_into(model, folders)
    return [int(f.name.split("-")[1]) for f in folders]
