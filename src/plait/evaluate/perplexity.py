"""Evaluation task `perplexity`: exp(mean token loss over the held-out set), beside that loss. Causal models
score every next token; masked models score the tokens transformers' collator masks, drawn from a fixed seed so
every evaluation of a split scores the same positions."""

from __future__ import annotations

import math
import time
from typing import Any

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from plait.data.sample import Sample
from plait.errors import UserError
from plait.evaluate.generate import model_device

MASK_SEED = 0
"""Seed of the evaluation masks (masked LM)."""


def token_losses(logits: torch.Tensor, labels: torch.Tensor, causal: bool) -> torch.Tensor:
    """(batch, positions) cross-entropy per scored token (0 where labels are -100); causal shifts by one."""
    if causal:
        logits, labels = logits[:, :-1], labels[:, 1:]
    flat = F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), ignore_index=-100, reduction="none")
    return flat.view(labels.shape)


@torch.no_grad()
def perplexity(built: Any, samples: list[Sample], cfg: Any, max_new_tokens: int = 0,
               progress: bool = True) -> tuple[dict[str, Any], list[str]]:
    """{'values': {'perplexity', 'loss'}} over all scored tokens; each sample's mean token loss as its prediction."""
    start = time.perf_counter()
    model, processor = built.model, built.processor
    task = processor.settings.task
    if task not in ("causal_lm", "masked_lm"):
        raise UserError(f"eval.task: perplexity needs a causal_lm or masked_lm model, not {task}")
    masker = processor.mlm_collator(seed=MASK_SEED) if task == "masked_lm" else None
    was_training = model.training
    model.eval()
    device = model_device(model)
    total, count, shown = 0.0, 0, []
    try:
        bar = tqdm(total=len(samples), desc="perplexity", unit="sample", disable=not progress, leave=False)
        for first in range(0, len(samples), cfg.batch_size):
            batch = processor.collate(processor.encode_train_many(samples[first:first + cfg.batch_size]), masker)
            labels = batch.pop("labels").to(device)
            logits = model(**{k: v.to(device) for k, v in batch.items()}).logits
            losses = token_losses(logits, labels, causal=task == "causal_lm")
            scored = (labels[:, 1:] if task == "causal_lm" else labels) != -100
            total += float(losses.sum())
            count += int(scored.sum())
            per_row = losses.sum(1) / scored.sum(1).clamp(min=1)
            shown.extend(f"{v:.4f}" if n else "" for v, n in zip(per_row.tolist(), scored.sum(1).tolist()))
            bar.update(len(labels))
        bar.close()
    finally:
        model.train(was_training)
    loss = total / count if count else float("nan")
    values = {"perplexity": math.exp(loss) if count else float("nan"), "loss": loss}
    signatures = {"perplexity": f"perplexity|exp(mean token loss)|{task}|tokens:{count}"
                                + (f"|mask_seed:{MASK_SEED}" if masker else ""),
                  "loss": f"loss|mean token cross-entropy (nats)|{task}|tokens:{count}"}
    return {"values": {k: values[k] for k in cfg.metrics}, "signatures": {k: signatures[k] for k in cfg.metrics},
            "tokens": count, "coverage": {"evaluated": len(samples), "left_out": {},
                                          "truncated": sum(processor.truncated(s) for s in samples)},
            "seconds": round(time.perf_counter() - start, 3)}, shown
