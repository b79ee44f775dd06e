"""Staged training: parts of the model trained in turn, each stage with its own optimisation, in one run."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from plait.data.sample import Sample
from plait.models.components.freezing import apply_trainable
from plait.models.family import Built
from plait.runs.rundir import RunDir
from plait.train.config import StageConfig

if TYPE_CHECKING:
    from plait.train.loop import TrainResult


def archive_checkpoints(run: RunDir, stage: str) -> None:
    """Move a finished stage's checkpoints to checkpoints/<stage>/, so the next stage's step numbers are its own."""
    steps = [p for p in run.checkpoints.glob("step-*") if p.is_dir()] if run.checkpoints.is_dir() else []
    if not steps:
        return
    target = run.checkpoints / stage
    target.mkdir(parents=True, exist_ok=True)
    for path in steps:
        shutil.move(str(path), str(target / path.name))


def train_stages(
    stages: list[StageConfig], run: RunDir, built: Built, train_samples: list[Sample], seed: int,
    evaluate: Callable[[], dict[str, float]], resume_from: Path | None = None, first: int = 0,
    progress: bool = True, on_validation: Callable[[int, dict[str, float]], None] | None = None,
    mix: Any = None,
) -> TrainResult:
    """Train each stage from `first` in turn; `resume_from` is a checkpoint of stage `first`."""
    from plait.train.loop import planned_epochs, train  # the Trainer stack loads only when training

    cache_epochs = sum(planned_epochs(s.train, len(train_samples)) for s in stages)  # the feature cache serves all

    groups = built.model.parameter_groups
    result = None
    history = [s.model_dump() for s in run.status().stages[:first]]
    for index in range(first, len(stages)):
        stage = stages[index]
        resuming = index == first and resume_from is not None
        if index > 0 and not resuming:
            archive_checkpoints(run, stages[index - 1].name)
        count = apply_trainable(built.model, groups(), stage.trainable)
        offset = sum(done["steps"] for done in history)  # this stage's step 1 is global step offset + 1
        run.update_status(stage=stage.name, stage_index=index, step=0 if not resuming else run.status().step)
        run.log({"step": 0, "global_step": offset, "split": "event", "event": "stage", "stage": stage.name,
                 "index": index, "trainable": stage.trainable, "trainable_parameters": count})
        result = train(stage.train, run, built, train_samples, seed, evaluate,
                       resume_from=resume_from if resuming else None, progress=progress, stage=stage.name,
                       on_validation=on_validation, step_offset=offset, mix=mix, cache_epochs=cache_epochs)
        history.append({"name": stage.name, "trainable": stage.trainable, "trainable_parameters": count,
                        "steps": result.steps, "preempted": result.preempted})
        run.update_status(stages=history, global_step=offset + result.steps)
        if result.preempted:
            break
    return result
