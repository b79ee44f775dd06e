"""Config of the eval section: splits, metrics and generation settings."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from plait.config.base import Strict

Metric = Literal["exact_match", "bleu", "chrf", "ter", "accuracy", "f1", "matthews_correlation", "pearson",
                 "spearmanr", "perplexity", "loss"]
TASK_METRICS: dict[str, tuple[str, ...]] = {
    "generate": ("exact_match", "bleu", "chrf", "ter"),
    "classify": ("accuracy", "f1", "matthews_correlation", "pearson", "spearmanr"),
    "perplexity": ("perplexity", "loss"),
}
"""The metrics each evaluation task can produce."""
DEFAULT_METRICS = {"generate": ["exact_match", "bleu", "chrf"], "classify": ["accuracy", "f1", "matthews_correlation"],
                   "perplexity": ["perplexity", "loss"]}


class EvalConfig(Strict):
    """What is evaluated after training and by `plait eval`."""

    task: Literal["generate", "classify", "perplexity"] = "generate"
    """generate: generated text against the target; classify: a classifier's label (or score) against it;
    perplexity: exp of the mean token loss over the split."""
    splits: list[Literal["validation", "test"]] = ["test"]
    """Splits evaluated after training."""
    metrics: list[Metric] = ["exact_match", "bleu", "chrf"]
    """Metrics; bleu, chrf and ter come from sacrebleu with their signatures; accuracy, f1 and
    matthews_correlation from scikit-learn, pearson and spearmanr from scipy (default: by task)."""
    headline: Metric = "exact_match"
    """The metric `plait ls` shows and sweeps default to."""
    max_new_tokens: int | None = Field(None, ge=1)
    """Generation length; None = the longest training target (in tokens) plus 25%."""
    num_beams: int = Field(1, ge=1)
    """Beam search width (1 = greedy)."""
    batch_size: int = Field(32, ge=1)
    """Samples per generation batch."""
    lowercase: bool = True
    """Compare lowercased texts for exact match."""
    validation_samples: int | None = Field(200, ge=1)
    """Validation samples scored at each in-training evaluation (None = all)."""

    @model_validator(mode="before")
    @classmethod
    def _task_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("task", "generate") != "generate":
            defaults = DEFAULT_METRICS[data["task"]]
            data = {"metrics": defaults, "headline": defaults[0], **data}
        return data

    @model_validator(mode="after")
    def _task_metrics(self) -> "EvalConfig":
        allowed = TASK_METRICS[self.task]
        wrong = [m for m in [*self.metrics, self.headline] if m not in allowed]
        if wrong:
            raise ValueError(f"metrics/headline: {wrong[0]!r} is not a metric of eval.task {self.task}; "
                             f"valid: {', '.join(allowed)}")
        return self
