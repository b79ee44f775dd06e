"""Evaluation tasks: what each produces (checked at validation) and the function that runs it.

Torch-free: the schema reads `metrics`; the runner is imported only when a split is scored. A runner is
`runner(built, samples, eval_cfg, max_new_tokens, progress) -> (result, predictions)`, where `result` has
`values` ({metric: number}) and whatever else belongs in eval/<split>.json (signatures, generation settings),
and `predictions` is one string per sample.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EvalTask:
    """One evaluation task."""

    name: str
    """The `eval.task` value."""
    metrics: tuple[str, ...]
    """Metrics it can compute (valid entries of `eval.metrics`)."""
    defaults: tuple[str, ...]
    """`eval.metrics` when the experiment names none."""
    runner: str
    """`module:function` that scores a split."""
    summary: str
    """One line for the README."""


TASKS: dict[str, EvalTask] = {}


def register_task(task: EvalTask) -> EvalTask:
    """Add (or replace) an evaluation task."""
    TASKS[task.name] = task
    return task


def get_task(name: str) -> EvalTask:
    """The task `name` (the schema has checked it exists)."""
    return TASKS[name]


def runner(name: str) -> Callable[..., tuple[dict[str, Any], list[str]]]:
    """The scoring function of task `name`, imported on first use."""
    module, _, attr = TASKS[name].runner.partition(":")
    return getattr(importlib.import_module(module), attr)


register_task(EvalTask(
    "generate", ("exact_match", "bleu", "chrf", "ter", "cider"), ("exact_match", "bleu", "chrf"),
    "plait.evaluate.evaluate:evaluate_samples",
    "generate from each prompt and compare with the target: exact match; BLEU, chrF, TER (sacrebleu); CIDEr-D (pycocoevalcap)"))
register_task(EvalTask(
    "multiple_choice", ("accuracy", "unparsable"), ("accuracy",),
    "plait.evaluate.multiple_choice:evaluate_multiple_choice",
    "the option a generation names (pattern, LaVIN's by default) or the likeliest one: accuracy overall and per "
    "category (ScienceQA's NAT ... Average by default), unparsable answers counted wrong"))
register_task(EvalTask(
    "classify", ("accuracy", "f1", "matthews_correlation", "pearson", "spearmanr"),
    ("accuracy", "f1", "matthews_correlation"), "plait.evaluate.classify:classify",
    "a classifier's label (or score) against the target: accuracy, F1, Matthews corr. (scikit-learn); "
    "Pearson, Spearman (scipy)"))
register_task(EvalTask(
    "perplexity", ("perplexity", "loss"), ("perplexity", "loss"), "plait.evaluate.perplexity:perplexity",
    "exp of the mean token loss over the split (causal: next tokens; masked: seeded masks), beside that loss"))
