"""Multiple-choice evaluation for every generative family: the chosen option (parsed from the generation, or the
likeliest), accuracy overall and per category, unparsable answers counted as wrong and reported.

The categories are data (MultipleChoiceConfig.categories), ScienceQA's by default. lmms-eval and VLMEvalKit score
ScienceQA too but need hub datasets at run time (checked: lmms-eval 0.7.3); the scoring here is small.
"""

from __future__ import annotations

import re
import time
from typing import Any

import torch

from plait.data.sample import Sample
from plait.data.sources.scienceqa import LETTERS
from plait.errors import UserError
from plait.evaluate.choice_config import Condition, MultipleChoiceConfig
from plait.evaluate.generate import generate, model_device


def parse_choice(text: str, pattern: str, num_choices: int) -> int | None:
    """The option index the text names (exactly one match of `pattern`, a letter among the options), else None.

    LaVIN's eval.py falls back to an unseeded random option here; plait never guesses.
    """
    found = re.findall(pattern, text)
    if len(found) != 1:
        return None
    letter = found[0] if isinstance(found[0], str) else found[0][0]
    index = LETTERS.find(letter) if len(letter) == 1 else -1
    return index if 0 <= index < num_choices else None


def category_scores(chosen: list[int | None], answers: list[int], fields: list[dict[str, Any]],
                    categories: dict[str, dict[str, Condition]]) -> dict[str, dict[str, Any]]:
    """{category: {correct, total, accuracy}}; accuracy in percent, None for an empty category (the official
    scorer's -1). An unparsable answer (None) is wrong."""
    out = {}
    for name, conditions in categories.items():
        members = [i for i, f in enumerate(fields) if all(c.holds(f.get(k)) for k, c in conditions.items())]
        correct = sum(chosen[i] is not None and chosen[i] == answers[i] for i in members)
        out[name] = {"correct": correct, "total": len(members),
                     "accuracy": round(100.0 * correct / len(members), 4) if members else None}
    return out


def _choice_meta(samples: list[Sample]) -> tuple[list[list[str]], list[int], list[dict[str, Any]]]:
    for s in samples:
        if not isinstance(s.meta.get("choices"), list) or not isinstance(s.meta.get("answer"), int):
            raise UserError(f"eval.task multiple_choice: sample {s.id} has no choices and answer index in its meta "
                            "(use a multiple-choice source such as data.source.kind: scienceqa)")
    return ([s.meta["choices"] for s in samples], [s.meta["answer"] for s in samples],
            [s.meta.get("fields", {}) for s in samples])


@torch.no_grad()
def likelihood_choices(built: Any, samples: list[Sample], candidate: str, batch_size: int) -> list[int]:
    """The option whose candidate continuation has the highest summed log-probability, per sample."""
    model, processor = built.model, built.processor
    was_training = model.training
    model.eval()
    device = model_device(model)
    shifted = not getattr(getattr(model, "config", None), "is_encoder_decoder", False)
    rows = [(i, j) for i, s in enumerate(samples) for j in range(len(s.meta["choices"]))]
    scores: dict[tuple[int, int], float] = {}
    try:
        for start in range(0, len(rows), batch_size):
            chunk = rows[start:start + batch_size]
            encoded = []
            for i, j in chunk:
                s = samples[i]
                text = candidate.format(letter=LETTERS[j], choice=s.meta["choices"][j])
                encoded.append(processor.encode_train(Sample(id=s.id, prompt=s.prompt, target=text, media=s.media,
                                                             decoder_prompt=s.decoder_prompt, meta=s.meta)))
            batch = {k: v.to(device) for k, v in processor.collate(encoded).items()}
            labels = batch["labels"]
            logits = model(**batch).logits.float()
            if shifted:
                logits, labels = logits[:, :-1], labels[:, 1:]
            logp = torch.log_softmax(logits, -1).gather(-1, labels.clamp(min=0)[..., None])[..., 0]
            total = (logp * (labels != -100)).sum(-1)
            for (i, j), value in zip(chunk, total.tolist()):
                scores[(i, j)] = value
    finally:
        model.train(was_training)
    return [max(range(len(s.meta["choices"])), key=lambda j: scores[(i, j)]) for i, s in enumerate(samples)]


def evaluate_multiple_choice(built: Any, samples: list[Sample], cfg: Any, max_new_tokens: int,
                             progress: bool = True) -> tuple[dict[str, Any], list[str]]:
    """(result, predictions): accuracy, unparsable count and per-category accuracies; the texts generated (or, for
    likelihood, the chosen candidate)."""
    mc: MultipleChoiceConfig = cfg.multiple_choice
    start = time.perf_counter()
    choices, answers, fields = _choice_meta(samples)
    if mc.method == "parse":
        predictions = generate(built.model, built.processor, samples, max_new_tokens, cfg.num_beams, cfg.batch_size,
                               progress=progress)
        chosen = [parse_choice(p, mc.pattern, len(c)) for p, c in zip(predictions, choices, strict=True)]
        generation = {"max_new_tokens": max_new_tokens, "num_beams": cfg.num_beams, "do_sample": False}
        signature = f"multiple_choice|method:parse|pattern:{mc.pattern}|unparsable:wrong"
    else:
        chosen = likelihood_choices(built, samples, mc.candidate, cfg.batch_size)
        predictions = [mc.candidate.format(letter=LETTERS[j], choice=c[j]) for j, c in zip(chosen, choices)]
        generation = {"method": "likelihood", "candidate": mc.candidate}
        signature = f"multiple_choice|method:likelihood|candidate:{mc.candidate}|sum-logprob"
    unparsable = sum(c is None for c in chosen)
    correct = sum(c is not None and c == a for c, a in zip(chosen, answers))
    categories = category_scores(chosen, answers, fields, mc.categories)
    values = {"accuracy": 100.0 * correct / max(len(samples), 1), "unparsable": float(unparsable)}
    values |= {name: c["accuracy"] for name, c in categories.items() if c["accuracy"] is not None}
    result = {"values": values, "signatures": {"accuracy": signature}, "generation": generation,
              "seconds": round(time.perf_counter() - start, 3),
              "categories": categories, "unparsable": unparsable,
              "per_sample": [{"choice": c, "answer": a} for c, a in zip(chosen, answers)]}
    return result, predictions
