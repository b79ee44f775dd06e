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


class WrapsTransformersModel:
    """Mixin for a plait nn.Module built around one transformers model (the attribute `wrapped` names): what
    the Trainer reads from a model is that model's config and gradient checkpointing, and the names in the
    state dict that are aliases of tied weights (left out of checkpoints by `drop_tied_aliases`)."""

    wrapped: str
    """Attribute holding the transformers model."""
    accepts_loss_kwargs = True  # the Trainer passes num_items_in_batch (see token_loss)
    label_shift = 1  # causal: logits[:, t] scores labels[:, t + 1] (perplexity and train.distill read it)

    @property
    def _keys_to_ignore_on_save(self) -> list[str]:
        """Names left out of checkpoints as aliases; the Trainer checks a resumed checkpoint's missing keys against them."""
        return sorted(tied_aliases(self))  # type: ignore[arg-type]

    def tie_weights(self) -> None:
        """Nothing to do: the aliases are the same tensors, restored with the names they share."""

    @property
    def config(self) -> Any:
        """The wrapped model's config (the Trainer reads a few fields from it)."""
        return getattr(self, self.wrapped).config

    def gradient_checkpointing_enable(self, **kwargs: Any) -> None:
        """Recompute the wrapped model's activations in the backward pass (non-reentrant checkpointing)."""
        getattr(self, self.wrapped).gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
