"""Config of the eval section: splits, metrics and generation settings."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from plait.core.strict import Strict
from plait.evaluate.choice_config import MultipleChoiceConfig


class EvalConfig(Strict):
    """What is evaluated after training and by `plait eval`."""

    splits: list[Literal["validation", "test"]] = ["test"]
    """Splits evaluated after training."""
    task: str | None = None
    """Evaluation task (generate, classify, perplexity, multiple_choice: what the family supports);
    None = the family's default (its first)."""
    metrics: list[str] | None = None
    """Metrics the task computes (generate: exact_match, bleu, chrf, ter, cider; bleu, chrf and ter come from
    sacrebleu with their signatures, cider (CIDEr-D) from pycocoevalcap: `pip install plait[captions]` and Java);
    None = the task's defaults."""
    headline: str | None = None
    """The metric `plait ls` shows and sweeps default to; None = the first of `metrics`."""
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
    multiple_choice: MultipleChoiceConfig = MultipleChoiceConfig()
    """How task multiple_choice chooses each answer (parsed or likeliest) and the categories it reports."""

    @field_validator("metrics")
    @classmethod
    def _cider_installed(cls, metrics: list[str] | None) -> list[str] | None:
        if metrics and "cider" in metrics:
            import importlib.util
            import shutil

            if importlib.util.find_spec("pycocoevalcap") is None:
                raise ValueError("cider needs pycocoevalcap: pip install 'plait[captions]' (or drop cider)")
            if shutil.which("java") is None:
                raise ValueError("cider tokenizes with pycocoevalcap's Stanford PTB tokenizer, which needs Java "
                                 "(no java on PATH): install a Java runtime, or drop cider")
        return metrics
