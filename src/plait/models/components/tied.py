"""Tied parameters (shared embeddings, tied LM heads) in state dicts saved with safetensors."""

from __future__ import annotations

from typing import Any

from torch import nn


def tied_aliases(module: nn.Module) -> set[str]:
    """Names of parameters that are the same tensor as an earlier-named parameter."""
    first: dict[int, str] = {}
    aliases = set()
    for name, param in module.named_parameters(remove_duplicate=False):
        if id(param) in first:
            aliases.add(name)
        else:
            first[id(param)] = name
    return aliases


def drop_tied_aliases(module: nn.Module) -> None:
    """Leave aliases out of `module.state_dict()`.

    The Trainer writes a plain module's checkpoint with `safetensors.save_file`, which refuses tensors
    that share memory; an alias is restored by the tie itself when the state dict is loaded back.
    """
    def hook(mod: nn.Module, state: dict[str, Any], prefix: str, local_metadata: Any) -> None:
        for name in tied_aliases(mod):
            state.pop(prefix + name, None)

    module.register_state_dict_post_hook(hook)
