"""Config of the eval section: splits, metrics and generation settings."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from plait.config.base import Strict
from plait.evaluate.choice_config import MultipleChoiceConfig

Metric = Literal["exact_match", "bleu", "chrf", "ter", "accuracy"]


class EvalConfig(Strict):
    """What is evaluated after training and by `plait eval`."""

    splits: list[Literal["validation", "test"]] = ["test"]
    """Splits evaluated after training."""
    metrics: list[Metric] = ["exact_match", "bleu", "chrf"]
    """Metrics; bleu, chrf and ter come from sacrebleu with their signatures."""
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
    task: Literal["generate", "multiple_choice"] = "generate"
    """generate: compare generated texts with the targets (`metrics`); multiple_choice: accuracy of the chosen
    option, overall and per category (samples need choices and an answer, e.g. data.source.kind: scienceqa)."""
    multiple_choice: MultipleChoiceConfig = MultipleChoiceConfig()
    """How task multiple_choice chooses an answer, and its categories."""

    @model_validator(mode="after")
    def _task_metrics(self) -> "EvalConfig":
        if self.task == "multiple_choice" and self.headline != "accuracy":
            raise ValueError(f"headline: task multiple_choice reports accuracy, not {self.headline}; set headline: accuracy")
        if self.task == "generate" and (self.headline == "accuracy" or "accuracy" in self.metrics):
            raise ValueError("metrics: accuracy comes from task: multiple_choice; set eval.task: multiple_choice")
        return self
