"""Score a split: generate, compare with references, write eval/<split>.json and predictions/<split>.jsonl."""

from __future__ import annotations

import time
from typing import Any

from plait.data.sample import Sample
from plait.evaluate.config import EvalConfig
from plait.evaluate.generate import generate
from plait.evaluate.metrics import score
from plait.runs import atomic
from plait.runs.rundir import RunDir, now


def evaluate_samples(
    built: Any, samples: list[Sample], cfg: EvalConfig, max_new_tokens: int, progress: bool = True
) -> tuple[dict[str, Any], list[str]]:
    """The `generate` task: metrics and predictions for `samples`."""
    start = time.perf_counter()
    predictions = generate(built.model, built.processor, samples, max_new_tokens, cfg.num_beams,
                           cfg.batch_size, progress=progress)
    result = score(cfg.metrics, predictions, [s.target for s in samples], cfg.lowercase)
    result["generation"] = {"max_new_tokens": max_new_tokens, "num_beams": cfg.num_beams, "do_sample": False}
    result["seconds"] = round(time.perf_counter() - start, 3)
    return result, predictions


def write_eval(
    run: RunDir, split: str, samples: list[Sample], predictions: list[str], result: dict[str, Any],
    coverage: dict[str, Any],
) -> dict[str, Any]:
    """Write the split's metrics (with coverage) and its predictions atomically; return the record."""
    scored = result.get("coverage")
    if scored:  # the runner left some samples out too (e.g. unlabelled ones)
        coverage = {**coverage, **scored, "left_out": {**coverage.get("left_out", {}), **scored["left_out"]}}
    if coverage.get("total"):
        coverage = {**coverage, "fraction": round(coverage["evaluated"] / coverage["total"], 4)}
    extra = {k: v for k, v in result.items() if k not in ("values", "per_sample", "coverage")}
    record = {"split": split, "metrics": result["values"], **extra, "coverage": coverage, "written": now()}
    per_sample = result.get("per_sample") or [{}] * len(samples)  # e.g. the option each answer chose
    lines = [
        {"id": s.id, "prompt": s.prompt, "prediction": p, "reference": s.target, **x}
        for s, p, x in zip(samples, predictions, per_sample, strict=True)
    ]
    import json

    atomic.write_text(run.predictions / f"{split}.jsonl", "".join(json.dumps(x) + "\n" for x in lines))
    atomic.write_json(run.eval_dir / f"{split}.json", record)
    return record
