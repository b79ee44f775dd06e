"""Config of train.sparsity: how many weights are zero, which ones, and how the pattern changes (torch-free)."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, model_validator

from plait.core.strict import Strict


class SparsityConfig(Strict):
    """A share of the covered weights held at zero: fixed at the start (static) or moved by RigL."""

    target: float = Field(gt=0.0, lt=1.0)
    """Share of the covered weights that are zero (0.8 = 80% zeros); the count of non-zeros is exact."""
    include: list[str] = ["*"]
    """fnmatch patterns over parameter names (as in model.named_parameters()); a weight is covered when one
    matches, no `exclude` pattern matches, and it is a trainable matrix (biases are never covered)."""
    exclude: list[str] = []
    """fnmatch patterns over parameter names left dense."""
    embeddings: bool = False
    """Cover embedding tables (and output layers tied to them); off by default, as in Numenta's sparse BERT,
    whose headline 80% is therefore 79.58% of all weights."""
    norms: bool = False
    """Cover the scale vectors of normalisation layers (LayerNorm, RMSNorm); off by default."""
    distribution: Literal["uniform", "erk"] = "uniform"
    """How the zeros are shared between weights: `uniform` gives each the target share; `erk`
    (Erdos-Renyi-Kernel, Evci et al. 2020) keeps more of small or thin layers, density proportional to
    sum(shape)/prod(shape), layers that would exceed full density left dense."""
    method: Literal["static", "rigl"] = "static"
    """`static`: the smallest-magnitude weights are zeroed once at the start and stay zero. `rigl`: the same
    start, then every `update_every` steps the smallest active weights are dropped and as many inactive ones
    regrown, at zero, where the dense gradient is largest."""
    update_every: int = Field(100, ge=1)
    """Optimizer steps between RigL updates."""
    stop_at: float = Field(0.75, gt=0.0, le=1.0)
    """Fraction of the training steps after which the pattern is frozen (RigL's end step)."""
    drop_fraction: float = Field(0.3, gt=0.0, lt=1.0)
    """Share of each weight's active entries dropped at the first update; cosine-decayed to 0 at `stop_at`:
    f(t) = drop_fraction / 2 * (1 + cos(pi * t / (stop_at * steps)))."""

    @model_validator(mode="after")
    def _rigl_keys(self) -> "SparsityConfig":
        given = self.model_fields_set & {"update_every", "stop_at", "drop_fraction"}
        if self.method == "static" and given:
            raise ValueError(f"{', '.join(sorted(given))}: only used with method: rigl (method is static)")
        return self


def drop_fraction_at(step: int, steps: int, cfg: SparsityConfig) -> float:
    """RigL's cosine-decayed drop fraction at optimizer step `step` of `steps` (0 after stop_at)."""
    end = cfg.stop_at * steps
    if step > end:
        return 0.0
    return cfg.drop_fraction / 2 * (1 + math.cos(math.pi * step / end))


def is_update_step(step: int, steps: int, cfg: SparsityConfig) -> bool:
    """A RigL update happens after optimizer step `step` (1-based): every update_every, before stop_at (where the
    drop fraction reaches 0)."""
    return cfg.method == "rigl" and step % cfg.update_every == 0 and step < cfg.stop_at * steps
