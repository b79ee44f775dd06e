"""Token cross-entropy that the Trainer can normalise over the whole global batch."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def token_loss(logits: torch.Tensor, labels: torch.Tensor, label_smoothing: float = 0.0,
               num_items_in_batch: torch.Tensor | int | None = None) -> torch.Tensor:
    """Mean cross-entropy over target tokens (labels != -100).

    Given `num_items_in_batch` (the Trainer counts the target tokens of every micro-batch of an optimizer step,
    on every rank), the sum is divided by that count instead: each token then weighs the same whatever its
    micro-batch or rank, so `--nproc 2` and gradient accumulation give the loss of one process with the
    same global batch.
    """
    logits = logits.float().reshape(-1, logits.shape[-1])
    labels = labels.reshape(-1).to(logits.device)
    if num_items_in_batch is None:
        return F.cross_entropy(logits, labels, ignore_index=-100, label_smoothing=label_smoothing)
    total = F.cross_entropy(logits, labels, ignore_index=-100, label_smoothing=label_smoothing, reduction="sum")
    if torch.is_tensor(num_items_in_batch):
        num_items_in_batch = num_items_in_batch.to(total.device)
    return total / num_items_in_batch
