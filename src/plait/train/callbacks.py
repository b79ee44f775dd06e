"""plait's Trainer callbacks: the run record, in-training evaluation, and checkpoint completion."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable

import torch

from plait.core.trainer_imports import TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from plait.evaluate.metrics import LOWER_IS_BETTER
from plait.runs import atomic
from plait.runs.rundir import COMPLETE_MARKER, RunDir, now


class Pruned(Exception):
    """Raised by an `on_validation` hook to end a run early (a sweep's pruner); the run is recorded as pruned."""

    def __init__(self, step: int, reason: str = "pruned") -> None:
        self.step = step
        super().__init__(f"{reason} at step {step}")


def global_step(step_offset: int | None, step: int) -> dict[str, int]:
    """{"global_step": ...} for a record of a staged run (its step counted across stages), else nothing."""
    return {} if step_offset is None else {"global_step": step_offset + step}


class RunRecorder(TrainerCallback):
    """Writes training events to metrics.jsonl and progress to status.json (rank 0 only)."""

    def __init__(self, run: RunDir, stage: str | None = None, step_offset: int | None = None) -> None:
        self.run = run
        self.stage = stage
        self.step_offset = step_offset
        """Steps of the stages before this one (None: not a staged run); records then carry global_step."""

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
               logs: dict[str, float] | None = None, **kwargs: Any) -> None:
        if not state.is_world_process_zero or not logs:
            return
        values = {k: v for k, v in logs.items() if isinstance(v, (int, float))}
        split = "train"
        if "train_runtime" in values:
            split = "train_summary"
        record = {"step": state.global_step, "epoch": round(state.epoch or 0.0, 4), "split": split, **values}
        if self.stage:
            record["stage"] = self.stage
        self.run.log(record | global_step(self.step_offset, state.global_step))
        self.run.update_status(step=state.global_step, epoch=round(state.epoch or 0.0, 4), max_steps=state.max_steps)


class Evaluator(TrainerCallback):
    """Evaluates every N steps, tracks the best step, stops early, and asks for checkpoints."""

    def __init__(
        self, run: RunDir, evaluate: Callable[[], dict[str, float]], eval_every: int, save_every: int,
        metric: str, patience: int | None, min_delta: float,
        on_validation: Callable[[int, dict[str, float]], None] | None = None, step_offset: int | None = None,
    ) -> None:
        self.run = run
        self.step_offset = step_offset
        """Steps of the stages before this one (None: not a staged run); records then carry global_step."""
        self.evaluate = evaluate
        self.on_validation = on_validation
        self.eval_every = eval_every
        self.save_every = save_every
        self.metric = metric
        self.lower_better = metric in LOWER_IS_BETTER
        self.patience = patience
        self.min_delta = min_delta
        self.best: float | None = None
        self.best_step: int | None = None
        self.bad_evals = 0
        self.last: tuple[int, dict[str, float]] | None = None

    def latest(self) -> tuple[int, dict[str, float]] | None:
        """The step and values of the last validation, or None."""
        return self.last

    def _improved(self, value: float) -> bool:
        if self.best is None:
            return True
        delta = (self.best - value) if self.lower_better else (value - self.best)
        return delta > self.min_delta

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        step = state.global_step
        if self.save_every > 0 and step % self.save_every == 0:
            control.should_save = True
        if self.eval_every <= 0 or step % self.eval_every != 0:
            return
        values = self.evaluate()
        self.last = (step, values)
        if state.is_world_process_zero:
            self.run.log({"step": step, "epoch": round(state.epoch or 0.0, 4), "split": "validation", **values,
                          **global_step(self.step_offset, step)})
        if self.metric not in values:
            raise KeyError(f"train.metric {self.metric!r} is not among the validation metrics {sorted(values)}")
        if self.on_validation is not None and step < state.max_steps:  # pruning at the end would only waste the run
            self.on_validation(step, values)  # may raise Pruned
        value = values[self.metric]
        if self._improved(value):
            self.best, self.best_step, self.bad_evals = value, step, 0
        else:
            self.bad_evals += 1
        if self.save_every <= 0:
            control.should_save = True
        if self.patience is not None and self.bad_evals >= self.patience:
            control.should_training_stop = True
            if state.is_world_process_zero:
                self.run.log({"step": step, "split": "event", "event": "early_stop",
                              "best_step": self.best_step, "best": self.best, **global_step(self.step_offset, step)})

    def state(self) -> dict[str, Any]:
        return {"metric": self.metric, "best": self.best, "best_step": self.best_step}


class CheckpointFinisher(TrainerCallback):
    """Renames Trainer's checkpoint-N to step-N, marks it complete, and rotates old complete ones."""

    def __init__(self, run: RunDir, keep: int, protect: Callable[[], int | None] = lambda: None) -> None:
        self.run = run
        self.keep = keep
        self.protect = protect

    def on_save(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.barrier()  # every rank writes its own RNG state into checkpoint-N before it moves
        if not state.is_world_process_zero:
            return
        source = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if not source.is_dir():
            return
        target = self.run.checkpoints / f"step-{state.global_step}"
        if target.exists():
            shutil.rmtree(target)
        source.rename(target)
        atomic.write_json(target / COMPLETE_MARKER, {"step": state.global_step, "epoch": state.epoch, "written": now()})
        self.rotate()

    def rotate(self) -> None:
        """Delete the oldest complete checkpoints beyond `keep`; never the newest or the protected one."""
        complete = self.run.complete_checkpoints()
        protected = self.protect()
        removable = [p for p in complete[:-1] if protected is None or p.name != f"step-{protected}"]
        excess = len(complete) - self.keep
        for path in removable[:max(excess, 0)]:
            # unmark first: a crash halfway through the deletion must not leave a "complete" remnant
            (path / COMPLETE_MARKER).unlink(missing_ok=True)
            shutil.rmtree(path, ignore_errors=True)
