"""Masked-LM corruption is transformers' collator with the configured rates."""

from __future__ import annotations

import torch

from plait.models.text.build import build
from plait.models.text.config import TextModelConfig
from tests.text_tiny import corpus, text_model


def _masked_batch(probability: float, mask: float, random: float) -> tuple[dict, torch.Tensor, object]:
    samples = corpus(2000, seed=1)
    cfg = TextModelConfig.model_validate(text_model("masked_lm", masking={
        "probability": probability, "mask_replace_prob": mask, "random_replace_prob": random}))
    built = build(cfg, samples)
    torch.manual_seed(0)
    encoded = [built.processor.encode_train(s) for s in samples]
    batch = built.processor.collate(encoded)
    original = built.processor.tokenizer.pad(encoded, return_tensors="pt")["input_ids"]
    return batch, original, built.processor.tokenizer


def _rates(batch: dict, original: torch.Tensor, tokenizer: object) -> tuple[float, float, float, float]:
    special = torch.tensor([[t in tokenizer.all_special_ids for t in row] for row in original.tolist()])
    chosen = batch["labels"] != -100
    candidates = ~special
    masked = chosen & (batch["input_ids"] == tokenizer.mask_token_id)
    kept = chosen & (batch["input_ids"] == original)
    n = chosen.sum().item()
    return (n / candidates.sum().item(), masked.sum().item() / n, (n - masked.sum().item() - kept.sum().item()) / n,
            kept.sum().item() / n)


def test_default_rates_are_bert_s_15_percent_80_10_10():
    batch, original, tokenizer = _masked_batch(0.15, 0.8, 0.1)
    chosen, masked, randomised, kept = _rates(batch, original, tokenizer)
    assert abs(chosen - 0.15) < 0.02
    assert abs(masked - 0.8) < 0.04
    # a random replacement can draw the original token (1 / vocabulary), which then counts as kept
    assert abs(randomised - 0.1) < 0.025 and abs(kept - 0.1) < 0.025
    picked = batch["labels"] != -100
    assert torch.equal(batch["labels"][picked], original[picked])


def test_configured_rates_are_applied_and_special_tokens_never_chosen():
    batch, original, tokenizer = _masked_batch(0.4, 0.5, 0.3)
    chosen, masked, randomised, kept = _rates(batch, original, tokenizer)
    assert abs(chosen - 0.4) < 0.02 and abs(masked - 0.5) < 0.04
    coincide = 0.3 / len(tokenizer)  # random draws equal to the original token count as kept
    assert abs(randomised - (0.3 - coincide)) < 0.025 and abs(kept - (0.2 + coincide)) < 0.025
    special = torch.isin(original, torch.tensor(tokenizer.all_special_ids))
    assert (batch["labels"][special] == -100).all()
    assert (batch["attention_mask"][original == tokenizer.pad_token_id] == 0).all()


def test_evaluation_masks_are_fixed_by_their_seed():
    batch, original, tokenizer = _masked_batch(0.15, 0.8, 0.1)
    samples = corpus(400, seed=1)
    cfg = TextModelConfig.model_validate(text_model("masked_lm"))
    built = build(cfg, samples)
    encoded = [built.processor.encode_train(s) for s in samples[:16]]
    first = built.processor.collate(encoded, built.processor.mlm_collator(seed=0))
    again = built.processor.collate(encoded, built.processor.mlm_collator(seed=0))
    assert torch.equal(first["input_ids"], again["input_ids"]) and torch.equal(first["labels"], again["labels"])
