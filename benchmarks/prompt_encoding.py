"""Generation's prompt encoding a batch at a time (`encode_prompt_many`) beside one sample at a time (`encode_prompt`).

For each family that generates: a batch of 32 prompts as `plait eval`'s generate and `plait serve` encode them,
images (64 px built-in captions) or signals (the signs quickstart's poses) included, timed both ways. The two
variants alternate within every round, which goes first alternating too, so drifting machine load falls on both;
each figure is the best of 3 calls, the table gives the medians over rounds and the median of the per-round ratios.
The encoded prompts must be equal, tensors bit for bit.
"""

from __future__ import annotations

import copy
import statistics
from typing import Any

import torch

from benchmarks.common import best_of, experiment, threads_flag
from benchmarks.text_encoding import FAMILIES as IMAGE_FAMILIES
from plait.bench.report import section
from plait.config.schema import Experiment
from plait.models.family import BuildOptions, get_family
from plait.pipeline import prepare_data

BATCH = 32
GPT2 = {"model_type": "gpt2", "n_embd": 64, "n_layer": 2, "n_head": 2, "n_positions": 256}


def captions(model: dict[str, Any]) -> Experiment:
    return Experiment.model_validate({
        "name": "bench-prompt-encoding", "seed": 0, "model": copy.deepcopy(model),
        "data": {"source": {"kind": "builtin_captions", "train_size": BATCH, "validation_size": 0, "test_size": 0,
                            "image_size": 64}},
        "eval": {"splits": []}})


def experiments() -> dict[str, Experiment]:
    out = {name: captions(model) for name, model in IMAGE_FAMILIES.items()}
    out["mapper"] = experiment("experiments/signs-quickstart.yaml", f"data.source.train_size={BATCH}",
                               "data.source.validation_size=2", "data.source.test_size=2", "eval.splits=[]")
    out["text"] = captions({"family": "text", "task": "causal_lm", "config": GPT2, "max_length": 128,
                            "tokenizer": {"train": {"kind": "wordlevel", "vocab_size": 200}}})
    return out


def equal(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    """The same prompts: keys, lists, and tensors of the same dtype, shape, strides and values."""
    def same(x: Any, y: Any) -> bool:
        if isinstance(x, torch.Tensor) or isinstance(y, torch.Tensor):
            return (isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor) and x.dtype == y.dtype
                    and x.shape == y.shape and x.stride() == y.stride() and torch.equal(x, y))
        return x == y
    return len(a) == len(b) and all(p.keys() == q.keys() and all(same(p[k], q[k]) for k in p) for p, q in zip(a, b))



class PromptEncoding:
    """A batch of 32 prompts encoded in one call per batch against one per sample, for every generating family."""

    name = "prompt-encoding"

    def run(self, repeats: int) -> tuple[str, bool]:
        rows, same = [], True
        for name, exp in experiments().items():
            data = prepare_data(exp, dry_run=False)
            samples = data.splits["train"][:BATCH]
            processor = get_family(exp.model.family).build(exp.model, data.splits["train"], BuildOptions()).processor

            def batched() -> list[dict[str, Any]]:
                return processor.encode_prompt_many(samples)

            def one_by_one() -> list[dict[str, Any]]:
                return [processor.encode_prompt(s) for s in samples]

            same &= equal(batched(), one_by_one())
            one, many = [], []
            for r in range(repeats):
                pair = [(one, one_by_one), (many, batched)]
                for times, fn in pair if r % 2 == 0 else pair[::-1]:
                    times.append(best_of(fn, 3))
            ratio = statistics.median(a / b for a, b in zip(one, many))
            rows.append((name, statistics.median(one), statistics.median(many), ratio))
        body = "\n".join(["| family | one call per sample ms | one call per batch ms | speed-up |", "|---|---|---|---|"]
                         + [f"| {n} | {1000 * a:.1f} | {1000 * b:.1f} | {r:.2f}x |" for n, a, b, r in rows])
        notes = [f"a batch of {BATCH} prompts, each with its image (64 px built-in captions; the text family reads the "
                 "prompts alone) or signal (the mapper: the signs quickstart's pose clips, read one by one on both "
                 "sides) through `encode_prompt_many` against `encode_prompt` per sample; medians "
                 f"of {repeats} rounds, each the best of 3 calls, the variants alternated; speed-up: the median "
                 "of the per-round ratios",
                 "prompts equal to one call per sample (tensors bit for bit): " + ("yes" if same else "NO")]
        return section("A generation batch's prompts in one call, per family",
                       f"python -m benchmarks prompt-encoding --repeats {repeats}" + threads_flag(), body, notes), same
