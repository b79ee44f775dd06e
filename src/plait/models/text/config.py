"""Config of the text family: a transformers causal LM, masked LM or sequence classifier (torch-free)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from plait.core.strict import Strict
from plait.models.components.config import TokenizerConfig
from plait.models.config import FamilyConfig, tokenizer_problem

Task = Literal["causal_lm", "masked_lm", "classification"]


class MaskingConfig(Strict):
    """Masked-LM corruption, done by transformers' DataCollatorForLanguageModeling."""

    probability: float = Field(0.15, gt=0.0, lt=1.0)
    """Share of (non-special) tokens chosen for prediction."""
    mask_replace_prob: float = Field(0.8, ge=0.0, le=1.0)
    """Of the chosen tokens, the share replaced by the mask token."""
    random_replace_prob: float = Field(0.1, ge=0.0, le=1.0)
    """Of the chosen tokens, the share replaced by a random token (the rest stay as they are)."""
    whole_word: bool = False
    """Mask whole words rather than single sub-word tokens (transformers' whole_word_mask)."""

    @model_validator(mode="after")
    def _shares(self) -> "MaskingConfig":
        if self.mask_replace_prob + self.random_replace_prob > 1.0:
            raise ValueError(f"mask_replace_prob + random_replace_prob = "
                             f"{self.mask_replace_prob + self.random_replace_prob} must be at most 1")
        return self


EVAL_TASKS = {"causal_lm": ("perplexity", "generate"), "masked_lm": ("perplexity",), "classification": ("classify",)}
"""The evaluation tasks each text task can be scored by (the first is the default)."""


class TextModelConfig(FamilyConfig):
    """Any transformers model of the task's kind (BERT, RoBERTa, OPT, GPT-2, Llama...), pretrained or from a config."""

    family: Literal["text"] = "text"
    """Model family (the discriminator)."""
    task: Task = "causal_lm"
    """causal_lm: next-token prediction; masked_lm: masked-token prediction; classification: one label (or several,
    or a score) per text or text pair."""
    pretrained: str | None = None
    """Checkpoint name or local folder with weights (and, unless `tokenizer` says otherwise, its tokenizer)."""
    config: dict[str, Any] | None = None
    """A transformers config as a mapping with `model_type` (e.g. bert, roberta, opt, gpt2, llama), randomly
    initialised under the seed; a tokenizer is then trained on the training texts unless `tokenizer.pretrained`."""
    tokenizer: TokenizerConfig = TokenizerConfig()
    """Tokenizer: the checkpoint's, another checkpoint's, or trained on the corpus (`train`)."""
    max_length: int = Field(128, ge=2)
    """Longest input in tokens; longer texts are truncated."""
    masking: MaskingConfig = MaskingConfig()
    """Masked-LM corruption (task masked_lm only)."""
    problem: Literal["single_label", "multi_label", "regression"] = "single_label"
    """classification: one label per sample; several (target "a,b", or meta labels); or one number (e.g. STS-B)."""
    labels: list[str] | None = None
    """classification: label names in class-id order (None = the sorted distinct training labels; needed with
    init_from, where no training labels are seen before the head is made)."""
    freeze_backbone: bool = False
    """classification: train only the head."""

    @property
    def role(self) -> str:
        """The head transformers must have for the model type (checked by plait.models.preflight)."""
        return self.task

    @model_validator(mode="after")
    def _source(self) -> "TextModelConfig":
        if (self.pretrained is None) == (self.config is None):
            raise ValueError("set exactly one of `pretrained` (a checkpoint) or `config` (a mapping with model_type)")
        if self.config is not None and "model_type" not in self.config:
            raise ValueError("`config` needs a `model_type` key, e.g. model_type: bert")
        if problem := tokenizer_problem(self.tokenizer, self.pretrained, "a model"):
            raise ValueError(problem)
        if self.task != "classification" and (self.labels is not None or self.problem != "single_label"):
            raise ValueError(f"labels/problem: only for task classification, not {self.task}")
        if self.problem == "regression" and self.labels is not None:
            raise ValueError("labels: a regression head has one output and no label names")
        if self.labels is not None and len(set(self.labels)) != len(self.labels):
            raise ValueError(f"labels: names must differ, got {self.labels}")
        positions = next((self.config[k] for k in ("max_position_embeddings", "n_positions")
                          if isinstance((self.config or {}).get(k), int)), None)
        if positions is not None and self.max_length > positions:
            raise ValueError(f"max_length: {self.max_length} tokens exceed config.max_position_embeddings "
                             f"{positions}; lower max_length to at most {positions} or raise it in model.config")
        return self

    def differences_from(self, saved: FamilyConfig) -> list[str]:
        """init_from may change every field: the weights and tokenizer come from the saved run, the task and head
        from this config (e.g. a classifier on a masked-LM run)."""
        return []

    def default_eval_task(self, supported: tuple[str, ...]) -> str:
        """perplexity for language models, classify for classifiers."""
        return EVAL_TASKS[self.task][0]

    def eval_task_problem(self, task: str) -> str | None:
        """A classifier is scored by classify, a masked LM by perplexity, a causal LM by perplexity or generate."""
        if task in EVAL_TASKS[self.task]:
            return None
        return f"a {self.task} text model is evaluated by {', '.join(EVAL_TASKS[self.task])}, not {task}"
