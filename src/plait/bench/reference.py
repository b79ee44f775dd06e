"""The hand-written way: a minimal PyTorch training loop, no Trainer and no plait pipeline.

It is what plait's training is measured against: same model, data, collator, batch, sampler,
optimizer, schedule and clipping, and nothing else.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable

import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler, Sampler


def reference_loader(dataset: Dataset, batch_size: int, collate: Callable[[list[Any]], Any], seed: int,
                     num_workers: int = 0, sampler: Sampler | None = None) -> DataLoader:
    """A shuffling DataLoader, as a user would write it."""
    if sampler is None:
        sampler = RandomSampler(dataset, generator=torch.Generator().manual_seed(seed))
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, collate_fn=collate,
                      num_workers=num_workers, pin_memory=torch.cuda.is_available())


def reference_train(
    model: torch.nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler, steps: int, max_grad_norm: float = 1.0,
    grad_accum: int = 1, precision: str = "fp32",
) -> list[float]:
    """Train for `steps` optimizer steps (cycling over the loader); return each step's loss."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device).train()
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    autocast = (torch.autocast(device.type, dtype=dtype) if dtype is not None and device.type == "cuda"
                else contextlib.nullcontext())
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16" and device.type == "cuda")
    params = [p for p in model.parameters() if p.requires_grad]
    losses: list[torch.Tensor] = []  # device tensors, read after the loop: no sync per step
    pending: list[torch.Tensor] = []
    micro = 0
    while len(losses) < steps:
        for batch in loader:
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            with autocast:
                loss = model(**batch).loss / grad_accum
            scaler.scale(loss).backward()
            pending.append(loss.detach())
            micro += 1
            if micro % grad_accum:
                continue
            if max_grad_norm > 0:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(torch.stack(pending).sum())
            pending = []
            if len(losses) == steps:
                break
    return [float(x) for x in losses]
