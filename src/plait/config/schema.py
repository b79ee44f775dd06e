"""The experiment: one typed, strict document that every command reads."""

from __future__ import annotations

import re
from typing import Annotated, Union

from pydantic import Field, field_validator

from plait.config.base import Strict
from plait.data.config import DataConfig
from plait.evaluate.config import EvalConfig
from plait.models.projector.config import ProjectorModelConfig
from plait.train.config import TrainConfig

ModelConfig = Annotated[Union[ProjectorModelConfig], Field(discriminator="family")]


class DryRunConfig(Strict):
    """How much of the work a dry run does."""

    max_samples: int = Field(16, ge=1)
    """Samples per split."""
    max_steps: int = Field(3, ge=1)
    """Optimizer steps."""


class Experiment(Strict):
    """One experiment: model, data, training, evaluation, seed and output."""

    name: str
    """Experiment name; runs go to `<output_dir>/<name>/<run-id>`. Defaults to the file name."""
    seed: int = 0
    """Seed applied before any component is built, and to data order."""
    deterministic: bool = False
    """Use PyTorch's deterministic algorithms (slower on GPU)."""
    output_dir: str = "runs"
    """Folder that holds `<name>/<run-id>` run directories (relative to the working directory)."""
    tags: dict[str, str] = {}
    """Free-form labels recorded with each run (sweep and trial are set by plait sweep)."""
    model: ModelConfig
    """The model family and its parts."""
    data: DataConfig = DataConfig()
    """The data."""
    train: TrainConfig = TrainConfig()
    """Training."""
    eval: EvalConfig = EvalConfig()
    """Evaluation."""
    dry_run: DryRunConfig = DryRunConfig()
    """What `--dry-run` does."""

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", value):
            raise ValueError("use letters, digits, '.', '_' and '-' (it names a folder)")
        return value
