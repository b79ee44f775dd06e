"""RigL's topology update (Evci et al. 2020): drop the smallest active weights, regrow as many, at zero, where
the dense gradient is largest; the count of non-zeros of each weight is unchanged.

Per weight, as in the paper (Numenta's RigLMixin drops and regrows globally, over all sparse weights at once,
so its per-layer shares drift; per weight keeps the configured distribution). A weight dropped in an update
may be regrown in the same one (the paper's candidates are all inactive entries after the drop); it then
restarts at zero like every regrown weight.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Update:
    """What one update did to one weight (flat indices)."""

    mask: torch.Tensor
    dropped: torch.Tensor
    grown: torch.Tensor


def drop_and_grow(weight: torch.Tensor, mask: torch.Tensor, score: torch.Tensor, n: int) -> Update:
    """The new mask of `weight`: its `n` active entries of smallest |weight| dropped, then the `n` inactive ones
    of largest `score` (the dense gradient's magnitude) grown."""
    active = mask.flatten()
    n = min(n, int(active.sum()))
    if n <= 0:
        empty = torch.empty(0, dtype=torch.long, device=weight.device)
        return Update(mask.clone(), empty, empty)
    magnitude = weight.detach().abs().flatten().float().masked_fill(~active, float("inf"))
    dropped = torch.topk(magnitude, n, largest=False, sorted=False).indices
    kept = active.clone()
    kept[dropped] = False
    candidates = score.flatten().float().masked_fill(kept, float("-inf"))
    grown = torch.topk(candidates, n, sorted=False).indices
    new = kept.clone()
    new[grown] = True
    return Update(new.view_as(mask), dropped, grown)


@torch.no_grad()
def apply_update(weight: torch.Tensor, update: Update, optimizer_state: dict | None = None) -> None:
    """Zero the dropped and the regrown entries of `weight`, and their optimizer moments (Adam's exp_avg...), so
    a regrown weight starts from zero with no remembered momentum."""
    flat = weight.view(-1)
    flat[update.dropped] = 0
    flat[update.grown] = 0
    for value in (optimizer_state or {}).values():
        if torch.is_tensor(value) and value.shape == weight.shape:
            value.masked_fill_(~update.mask, 0)
            value.view(-1)[update.grown] = 0
