"""Which weights a sparsity config covers, how many of each stay non-zero, the masks, and measured sparsity."""

from __future__ import annotations

import fnmatch
import math
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from plait.train.sparsity.config import SparsityConfig

MASK_FILE = "sparsity_masks.safetensors"
"""Written into each checkpoint: the masks, so a resumed run continues the same pattern."""

NORM_TYPES = (nn.LayerNorm, nn.GroupNorm, nn.RMSNorm, nn.modules.batchnorm._NormBase)


def _is_norm(module: nn.Module) -> bool:
    # transformers defines an RMSNorm class per model (LlamaRMSNorm, T5LayerNorm...) with no common base;
    # its own weight-decay rule matches names too (Trainer.get_decay_parameter_names)
    return isinstance(module, NORM_TYPES) or type(module).__name__.endswith("Norm")


def covered_parameters(model: nn.Module, include: list[str], exclude: list[str], embeddings: bool,
                       norms: bool) -> dict[str, nn.Parameter]:
    """The trainable weights a sparsity config covers, by name (a tied weight once, under its first name)."""
    embedding_ids = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    norm_ids = {id(p) for m in model.modules() if _is_norm(m) for p in m.parameters(recurse=False)}
    out: dict[str, nn.Parameter] = {}
    seen: set[int] = set()
    for name, param in model.named_parameters():  # named_parameters yields a shared tensor once
        if id(param) in seen or not param.requires_grad:
            continue
        seen.add(id(param))
        if id(param) in norm_ids:
            eligible = norms
        else:
            eligible = param.ndim >= 2 and (embeddings or id(param) not in embedding_ids)
        matched = any(fnmatch.fnmatchcase(name, p) for p in include)
        if eligible and matched and not any(fnmatch.fnmatchcase(name, p) for p in exclude):
            out[name] = param
    return out


def _erk_densities(shapes: dict[str, tuple[int, ...]], density: float) -> dict[str, float]:
    """Erdos-Renyi-Kernel densities (Evci et al. 2020, their algorithm): density_l = eps * sum(shape)/prod(shape),
    eps chosen so the total is `density`; a layer that would pass 1 is made dense and eps solved again."""
    numel = {n: math.prod(s) for n, s in shapes.items()}
    raw = {n: sum(s) / numel[n] for n, s in shapes.items()}
    dense: set[str] = set()
    while True:
        budget = density * sum(numel.values()) - sum(numel[n] for n in dense)
        divisor = sum(raw[n] * numel[n] for n in shapes if n not in dense)
        eps = budget / divisor if divisor else 0.0
        over = [n for n in shapes if n not in dense and eps * raw[n] > 1]
        if not over:
            return {n: 1.0 if n in dense else eps * raw[n] for n in shapes}
        top = max(raw[n] for n in over)
        dense |= {n for n in over if raw[n] == top}


def keep_counts(shapes: dict[str, tuple[int, ...]], target: float, distribution: str) -> dict[str, int]:
    """Non-zero entries per weight: exact integers that sum to round((1 - target) x all covered entries),
    each layer's real share rounded by largest remainder."""
    numel = {n: math.prod(s) for n, s in shapes.items()}
    density = 1.0 - target
    shares = ({n: density for n in shapes} if distribution == "uniform" else _erk_densities(shapes, density))
    real = {n: min(shares[n], 1.0) * numel[n] for n in shapes}
    counts = {n: math.floor(v) for n, v in real.items()}
    left = round(density * sum(numel.values())) - sum(counts.values())
    by_remainder = sorted((n for n in shapes if counts[n] < numel[n]), key=lambda n: -(real[n] - counts[n]))
    for name in by_remainder[:max(left, 0)]:
        counts[name] += 1
    return counts


def magnitude_mask(weight: torch.Tensor, keep: int) -> torch.Tensor:
    """True at the `keep` entries of largest magnitude."""
    mask = torch.zeros(weight.numel(), dtype=torch.bool, device=weight.device)
    if keep:
        mask[torch.topk(weight.detach().abs().flatten(), keep, sorted=False).indices] = True
    return mask.view_as(weight)


class MaskSet:
    """One boolean mask per covered weight; `apply` zeroes the weights outside it."""

    def __init__(self, params: dict[str, nn.Parameter], masks: dict[str, torch.Tensor]) -> None:
        self.params = params
        self.masks = masks

    @classmethod
    def by_magnitude(cls, params: dict[str, nn.Parameter], counts: dict[str, int]) -> "MaskSet":
        return cls(params, {n: magnitude_mask(p, counts[n]) for n, p in params.items()})

    @torch.no_grad()
    def apply(self) -> None:
        for name, param in self.params.items():
            param.masked_fill_(~self.masks[name], 0)

    def counts(self) -> dict[str, int]:
        return {n: int(m.sum()) for n, m in self.masks.items()}

    def broadcast(self) -> None:
        """Make every rank's masks rank 0's (a no-op outside a distributed run)."""
        if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
            return
        for name, mask in self.masks.items():
            packed = mask.to(torch.uint8)  # gloo has no bool all-reduce/broadcast
            torch.distributed.broadcast(packed, src=0)
            self.masks[name] = packed.bool()

    def save(self, folder: Path) -> None:
        save_file({n: m.to(torch.uint8).contiguous().cpu() for n, m in self.masks.items()}, str(folder / MASK_FILE))

    def load(self, folder: Path) -> None:
        saved = load_file(str(folder / MASK_FILE))
        if set(saved) != set(self.params):
            raise ValueError(f"{folder / MASK_FILE}: masks for {sorted(set(saved) ^ set(self.params))[:3]} do not "
                             "match the covered weights")
        self.masks = {n: saved[n].to(device=p.device, dtype=torch.bool) for n, p in self.params.items()}


@torch.no_grad()
def measure(model: nn.Module, covered: list[str]) -> dict[str, object]:
    """Measured sparsity (share of entries exactly zero): over every parameter of the model (`overall`, tied
    weights once), over the covered weights (`covered`), and per covered weight (`modules`)."""
    wanted = set(covered)
    zeros = total = covered_zeros = covered_total = 0
    modules: dict[str, float] = {}
    for name, param in model.named_parameters():
        z, n = int((param == 0).sum()), param.numel()
        zeros, total = zeros + z, total + n
        if name in wanted:
            covered_zeros, covered_total = covered_zeros + z, covered_total + n
            modules[name] = round(z / n, 6)
    return {"overall": round(zeros / max(total, 1), 6), "covered": round(covered_zeros / max(covered_total, 1), 6),
            "parameters": total, "covered_parameters": covered_total, "modules": modules}


def report(model: nn.Module, cfg: SparsityConfig, covered: list[str] | None = None) -> dict[str, object]:
    """What a run records about its sparsity: the config's target beside the measured shares."""
    if covered is None:
        covered = list(covered_parameters(model, cfg.include, cfg.exclude, cfg.embeddings, cfg.norms))
    return {"target": cfg.target, "method": cfg.method, "distribution": cfg.distribution, **measure(model, covered)}
