"""Evaluation task `perplexity`: exp(mean token loss over the held-out set), beside that loss.

Text family: causal models score every next token; masked models score the tokens transformers' collator
masks, drawn from a fixed seed so every evaluation of a split scores the same positions. Other families
score each sample's target tokens given its prompt and media (the positions the training loss covers, so a
caption's perplexity given its image), lined up by the model's `label_shift`."""

from __future__ import annotations

import math
import time
from typing import Any

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from plait.data.sample import Sample
from plait.evaluate.generate import model_device

MASK_SEED = 0
"""Seed of the evaluation masks (masked LM)."""


def token_losses(logits: torch.Tensor, labels: torch.Tensor, shift: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(batch, positions) cross-entropy per token (0 where labels are -100) and the mask of scored tokens;
    logits[:, t] scores labels[:, t + shift]."""
    if shift:
        logits, labels = logits[:, :-shift], labels[:, shift:]
    flat = F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), ignore_index=-100, reduction="none")
    return flat.view(labels.shape), labels != -100


@torch.no_grad()
def perplexity(built: Any, samples: list[Sample], cfg: Any, max_new_tokens: int = 0,
               progress: bool = True) -> tuple[dict[str, Any], list[str]]:
    """{'values': {'perplexity', 'loss'}} over all scored tokens; each sample's mean token loss as its prediction."""
    start = time.perf_counter()
    model, processor = built.model, built.processor
    task, shift, masker = processor.perplexity_scoring(MASK_SEED)
    if shift is None:
        shift = int(model.label_shift)
    was_training = model.training
    model.eval()
    device = model_device(model)
    total, count, shown = 0.0, 0, []
    try:
        bar = tqdm(total=len(samples), desc="perplexity", unit="sample", disable=not progress, leave=False)
        for first in range(0, len(samples), cfg.batch_size):
            encoded = processor.encode_train_many(samples[first:first + cfg.batch_size])
            batch = processor.scoring_batch(encoded, masker)
            batch = {k: v.to(device) for k, v in batch.items()}
            labels = batch["labels"]  # passed on too: encoder-decoders make their decoder inputs from them
            logits = model(**batch).logits
            losses, scored = token_losses(logits, labels, shift)
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
                                          "truncated": sum(processor.truncated(s) for s in samples)
                                      if task != "targets" else 0},
            "seconds": round(time.perf_counter() - start, 3)}, shown
