"""Perplexity is exp(mean token loss over the held-out set), computed by hand here."""

from __future__ import annotations

import math

import torch

from plait.evaluate.config import EvalConfig
from plait.evaluate.perplexity import MASK_SEED, perplexity
from plait.models.text.build import build
from plait.models.text.config import TextModelConfig
from tests.text_tiny import corpus, text_model


def EVAL(batch_size: int) -> EvalConfig:  # noqa: N802 (reads as a constant)
    return EvalConfig(task="perplexity", metrics=["perplexity", "loss"], batch_size=batch_size)


def test_causal_perplexity_is_exp_of_the_mean_next_token_loss():
    samples = corpus(12)
    built = build(TextModelConfig.model_validate(text_model("causal_lm")), samples)
    result, predictions = perplexity(built, samples, EVAL(5), progress=False)
    total, count = 0.0, 0
    built.model.eval()  # no dropout, as in the runner
    with torch.no_grad():
        for s in samples:  # one unpadded sequence at a time
            ids = torch.tensor([built.processor.encode_train(s)["input_ids"]])
            logp = built.model(input_ids=ids).logits.log_softmax(-1)[0, :-1]
            total -= float(logp.gather(1, ids[0, 1:, None]).sum())
            count += ids.shape[1] - 1
    assert math.isclose(result["values"]["loss"], total / count, rel_tol=1e-5)
    assert math.isclose(result["values"]["perplexity"], math.exp(total / count), rel_tol=1e-5)
    assert len(predictions) == len(samples) and result["tokens"] == count


def test_masked_perplexity_is_exp_of_the_model_loss_on_the_seeded_masks():
    samples = corpus(30)
    built = build(TextModelConfig.model_validate(text_model("masked_lm")), samples)
    result, _ = perplexity(built, samples, EVAL(64), progress=False)
    processor = built.processor
    batch = processor.collate([processor.encode_train(s) for s in samples], processor.mlm_collator(seed=MASK_SEED))
    built.model.eval()
    with torch.no_grad():
        loss = float(built.model(**batch).loss)  # transformers' mean over the masked tokens
    assert math.isclose(result["values"]["perplexity"], math.exp(loss), rel_tol=1e-5)
    assert result["tokens"] == int((batch["labels"] != -100).sum())
    again, _ = perplexity(built, samples, EVAL(64), progress=False)
    assert again["values"] == result["values"]
