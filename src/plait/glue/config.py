"""The GLUE suite file: which tasks, their fine-tuning recipes and runs per task (torch-free)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from plait.core.fields import FolderName
from plait.core.strict import Strict
from plait.glue.tasks import NAMES, TASKS

TaskName = Literal["cola", "mnli", "mrpc", "qnli", "qqp", "rte", "sst2", "stsb", "wnli"]


class TaskRecipe(Strict):
    """One task's fine-tuning: runs, and experiment keys over the suite's `experiment`."""

    runs: int | None = Field(None, ge=1)
    """Fine-tuning runs (seeds seed, seed+1, ...); None = the task's default (Numenta's study: 10 for CoLA, RTE
    and WNLI, 3 for STS-B and MRPC, 1 elsewhere)."""
    experiment: dict[str, Any] = {}
    """Experiment keys for this task only (e.g. {train: {lr: 2e-5, epochs: 5}}), merged over the suite's."""


class BuiltinGlue(Strict):
    """Sizes of the built-in synthetic GLUE-like tasks (used when `glue_dir` is null)."""

    train_size: int = Field(2000, ge=10)
    """Training rows per task."""
    validation_size: int = Field(400, ge=10)
    """Validation rows per task."""
    seed: int = 1234
    """Seed of the generator."""


class GlueSuite(Strict):
    """Fine-tune one or several pretrained models on each GLUE task and tabulate max-over-N results."""

    name: FolderName = "glue"
    """Suite name; its folder is `<output_dir>/<name>`."""
    output_dir: str = "runs"
    """Folder holding the suite folder (relative to the working directory)."""
    glue_dir: str | None = None
    """GLUE in nyu-mll/glue's hub layout: a local snapshot folder, or nyu-mll/glue from the local datasets cache;
    null = plait's built-in synthetic tasks."""
    builtin: BuiltinGlue = BuiltinGlue()
    """Sizes of the built-in tasks."""
    seed: int = 0
    """Seed of run 1 of each task; run k uses seed + k - 1 (the classifier head is drawn from it)."""
    tasks: dict[TaskName, TaskRecipe] = {name: TaskRecipe() for name in NAMES}
    """Tasks to fine-tune, with their recipes (default: all nine, default recipes)."""
    experiment: dict[str, Any] = {}
    """Experiment keys every fine-tune shares (train, eval batch size, model.max_length...); `model.task`,
    `data` and `init_from` are set per task and pretrained model."""

    @field_validator("experiment")
    @classmethod
    def _reserved(cls, value: dict[str, Any]) -> dict[str, Any]:
        taken = sorted({"data", "init_from", "name", "output_dir", "seed"} & set(value))
        if taken:
            raise ValueError(f"{', '.join(taken)}: set per task and pretrained model by plait glue; leave them out")
        return value

    def runs(self, task: str) -> int:
        """Runs of `task`."""
        return self.tasks[task].runs or TASKS[task].runs
