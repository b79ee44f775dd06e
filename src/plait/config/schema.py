"""The experiment: one typed, strict document that every command reads."""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field, model_validator

from plait.config.base import Strict
from plait.data.config import DataConfig
from plait.evaluate.config import EvalConfig
from plait.launch.config import LaunchConfig
from plait.models.mapper.config import MapperModelConfig
from plait.models.projector.config import ProjectorModelConfig
from plait.models.text.config import TextModelConfig
from plait.train.config import TrainConfig
from plait.train.stages import StageConfig, resolve_stage_train
from plait.config.types import FolderName

ModelConfig = Annotated[Union[ProjectorModelConfig, MapperModelConfig, TextModelConfig], Field(discriminator="family")]


class DryRunConfig(Strict):
    """How much of the work a dry run does."""

    max_samples: int = Field(16, ge=1)
    """Samples per split."""
    max_steps: int = Field(3, ge=1)
    """Optimizer steps."""


class Experiment(Strict):
    """One experiment: model, data, training, evaluation, seed and output."""

    name: FolderName
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
    stages: list[StageConfig] = []
    """Training stages run in order in one run directory (empty = one stage: `train`, everything not frozen)."""
    init_from: str | None = None
    """A run directory (relative to the working directory) whose saved model this run starts from and trains further."""
    launch: LaunchConfig = LaunchConfig()
    """Where `plait run` trains: processes per node, nodes, SLURM or Ray (flags of `plait run` override it)."""

    @model_validator(mode="before")
    @classmethod
    def _stage_train(cls, data: object) -> object:
        return resolve_stage_train(data)

    @model_validator(mode="after")
    def _stage_parts(self) -> "Experiment":
        names = [stage.name for stage in self.stages]
        if len(set(names)) != len(names):
            raise ValueError(f"stages: names must differ, got {names}")
        check = getattr(self.model, "trainable_problems", None)
        if self.stages and check is None:
            raise ValueError(f"stages: the {self.model.family} family does not support stages")
        problems = [f"stages[{i}].trainable: {p}" for i, stage in enumerate(self.stages) for p in check(stage.trainable)]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _padding_free(self) -> "Experiment":
        where = ["train"] * self.train.padding_free + [f"stages[{i}].train" for i, s in enumerate(self.stages)
                                                       if s.train is not None and s.train.padding_free]
        if where and not self.model.padding_free_ok:
            raise ValueError(f"{where[0]}.padding_free: the {self.model.family} family cannot pack sequences "
                             "(its forward takes no position ids); use it with the projector family, or set it false")
        return self

