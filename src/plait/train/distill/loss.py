"""The distillation loss on logits: which positions count, the soft loss with its T^2 factor, and the mix."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def target_positions(logits: torch.Tensor, labels: torch.Tensor, shift: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits at the target positions as rows, how many): labels != -100, with logits[:, t] scoring
    labels[:, t + shift] (1 for causal LMs, 0 for masked LMs, seq2seq decoders and classification heads)."""
    if logits.ndim == 2:  # classification head: one distribution per example
        if labels.ndim != 1 or logits.shape[-1] < 2:
            raise ValueError("train.distill: a classification head is distilled over one class per example; "
                             "multi-label and regression heads are not supported")
        keep = labels.to(logits.device) != -100
        return logits[keep], keep.sum()
    if shift:
        logits, labels = logits[:, :-shift], labels[:, shift:]
    keep = labels.to(logits.device) != -100
    return logits[keep], keep.sum()


def soft_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float, kind: str) -> torch.Tensor:
    """T^2 x sum over rows of KL(p_T || q_T) (`kl`) or of -sum p_T log q_T (`soft_ce`); rows are positions."""
    log_q = F.log_softmax(student.float() / temperature, dim=-1)
    log_p = F.log_softmax(teacher.float() / temperature, dim=-1)
    if kind == "kl":
        total = F.kl_div(log_q, log_p, reduction="sum", log_target=True)
    else:
        total = -(log_p.exp() * log_q).sum()
    return total * temperature ** 2


def mixed_loss(hard: torch.Tensor, student: torch.Tensor, teacher: torch.Tensor, labels: torch.Tensor, shift: int,
               temperature: float, kd_factor: float, kind: str, count: torch.Tensor | int | None) -> torch.Tensor:
    """(1 - kd_factor) x hard + kd_factor x soft / count: `count` is the hard loss's divisor (the target tokens
    of the global batch, as the Trainer counts them), or None for this batch's own positions. A classification
    head's hard loss (transformers') is its batch's mean whatever the Trainer counts, so its soft loss is too."""
    if student.ndim == 2:
        count = None
    rows, local = target_positions(student, labels, shift)
    teacher_rows, _ = target_positions(teacher, labels, shift)
    vocab = min(rows.shape[-1], teacher_rows.shape[-1])  # checked in teacher.py: both cover the tokenizer
    soft = soft_loss(rows[..., :vocab], teacher_rows[..., :vocab], temperature, kind)
    divisor = count if count is not None else local.clamp(min=1)
    if torch.is_tensor(divisor):
        divisor = divisor.to(soft.device)
    return (1 - kd_factor) * hard + kd_factor * soft / divisor
