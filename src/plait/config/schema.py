"""The experiment: one typed, strict document that every command reads.

The `model` section is a union over the families in plait.models.registry (rebuilt when one registers), and
each combination a family cannot do fails here, at `plait validate`, from the capabilities it declares.
Nothing here imports torch.
"""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import Field, model_validator

from plait.core.strict import Strict
from plait.core.fields import FolderName
from plait.data.config import DataConfig
from plait.evaluate.config import EvalConfig
from plait.evaluate.tasks import TASKS
from plait.config.launch import LaunchConfig
from plait.models import registry
from plait.models.config import FamilyConfig
from plait.train.config import StageConfig, TrainConfig, resolve_stage_train


class DryRunConfig(Strict):
    """How much of the work a dry run does."""

    max_samples: int = Field(16, ge=1)
    """Samples per split."""
    max_steps: int = Field(3, ge=1)
    """Optimizer steps."""


def _model_union() -> Any:
    configs = tuple(spec.config for spec in registry.specs())
    return Annotated[Union[configs], Field(discriminator="family")]  # noqa: UP007 (a runtime tuple)


class Experiment(Strict):
    """One experiment: model, data, training, evaluation, seed and output."""

    name: FolderName
    """Experiment name; runs go to `<output_dir>/<name>/<run-id>`. Defaults to the file name."""
    seed: int = Field(0, ge=0, lt=2**32)
    """Seed applied before any component is built, and to data order (0 <= seed < 2^32)."""
    deterministic: bool = False
    """Use PyTorch's deterministic algorithms (slower on GPU)."""
    output_dir: str = "runs"
    """Folder that holds `<name>/<run-id>` run directories. Written in the experiment file: relative to that
    file, as every path there; the default and a `--set output_dir=...` value: relative to the working directory."""
    tags: dict[str, str] = {}
    """Free-form labels recorded with each run (sweep and trial are set by plait sweep)."""
    model: FamilyConfig
    """The model family and its parts (`family` chooses one of the registered families: `plait --help` lists them)."""
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
        groups = registry.capabilities(self.model.family).stage_groups
        if self.stages and not groups:
            raise ValueError(f"stages: the {self.model.family} family trains in one stage (it declares no stage groups)")
        problems = [f"stages[{i}].trainable: {p}" for i, stage in enumerate(self.stages)
                    for p in self.model.trainable_problems(stage.trainable, groups)]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _warmup_fits(self) -> "Experiment":
        """A warm-up as long as a step-bounded run would leave its schedule squeezed or never started."""
        sections = [(f"stages[{i}].train", s.train) for i, s in enumerate(self.stages)] or [("train", self.train)]
        for key, train in sections:
            warmup = getattr(train.schedule, "warmup_steps", 0)  # one_cycle has no warm-up of its own
            if train.max_steps > 0 and warmup >= train.max_steps:
                raise ValueError(
                    f"{key}.schedule.warmup_steps: {warmup} warm-up steps do not fit in {key}.max_steps="
                    f"{train.max_steps}: the learning rate would still be rising when the run ends (the "
                    f"{train.schedule.kind} part never starts); make it smaller than {train.max_steps}")
        return self

    @model_validator(mode="after")
    def _padding_free(self) -> "Experiment":
        where = ["train"] * self.train.padding_free + [f"stages[{i}].train" for i, s in enumerate(self.stages)
                                                       if s.train.padding_free]
        if where and not registry.capabilities(self.model.family).packing:
            packs = [s.name for s in registry.specs() if s.capabilities.packing]
            raise ValueError(f"{where[0]}.padding_free: the {self.model.family} family cannot pack sequences; "
                             f"families that can: {', '.join(packs) or 'none'}; or set it false")
        return self

    @model_validator(mode="after")
    def _mix(self) -> "Experiment":
        if self.data.mix is None:
            return self
        trains = [("train", self.train)] + [(f"stages[{i}].train", s.train) for i, s in enumerate(self.stages)]
        for where, train in trains:
            if train.group_by_length:
                raise ValueError(f"{where}.group_by_length: a data.mix draws its own order; set it false")
            if train.padding_free and self.data.mix.mode == "paired":
                raise ValueError(f"{where}.padding_free: a paired data.mix has one batch per source; set it false")
        return self

    @model_validator(mode="after")
    def _evaluation(self) -> "Experiment":
        """eval.task, eval.metrics, eval.headline and every train.metric name what the evaluation produces."""
        supported = registry.capabilities(self.model.family).eval_tasks
        ev = self.eval
        task_name = ev.task or self.model.default_eval_task(supported)
        if task_name not in supported or task_name not in TASKS:
            raise ValueError(f"eval.task: the {self.model.family} family is evaluated by "
                             f"{', '.join(t for t in supported if t in TASKS)}, not {task_name!r}")
        problem = self.model.eval_task_problem(task_name)
        if problem:
            raise ValueError(f"eval.task: {problem}")
        task = TASKS[task_name]
        metrics = list(task.defaults) if ev.metrics is None else ev.metrics
        unknown = [m for m in metrics if m not in task.metrics]
        if unknown or not metrics:
            raise ValueError(f"eval.metrics: {unknown or metrics!r} not computed by task {task_name}; "
                             f"valid: {', '.join(task.metrics)}")
        produced = ["loss", *metrics, *self.data.source_metrics()]
        headline = ev.headline or metrics[0]
        if headline not in metrics:
            raise ValueError(f"eval.headline: {headline!r} is not in eval.metrics ({', '.join(metrics)})")
        where = [("train.metric", self.train.metric)] + [(f"stages[{i}].train.metric", s.train.metric)
                                                         for i, s in enumerate(self.stages)]
        for key, value in where:
            if value not in produced:
                raise ValueError(f"{key}: {value!r} is not produced by the evaluation; valid: {', '.join(produced)}")
        if (ev.task, ev.metrics, ev.headline) != (task_name, metrics, headline):
            object.__setattr__(self, "eval", ev.model_copy(update={"task": task_name, "metrics": metrics,
                                                                     "headline": headline}))
        return self

    def teacher_problems(self) -> list[str]:
        """One line per distillation teacher (train.distill, stages[i].train.distill) that cannot be found."""
        sections = [("train", self.train), *((f"stages[{i}].train", s.train) for i, s in enumerate(self.stages))]
        found = (t.distill.teacher_problem(f"{key}.distill.teacher") for key, t in sections if t.distill)
        return [line for line in found if line]

    def produced_metrics(self) -> list[str]:
        """Metrics an in-training validation reports: the validation loss and `eval.metrics`."""
        return ["loss", *(self.eval.metrics or []), *self.data.source_metrics()]


def _rebuild() -> None:
    Experiment.model_fields["model"].annotation = _model_union()
    Experiment.model_fields["model"].discriminator = "family"
    Experiment.model_rebuild(force=True)


registry.on_change(_rebuild)
_rebuild()
