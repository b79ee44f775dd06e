"""One trial: the base experiment with the trial's parameters, run once per seed into ordinary run directories."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from plait.config.load import load_experiment
from plait.runs import atomic
from plait.runs.rundir import RunDir
from plait.runs.status import CorruptStatus
from plait.sweep.space import as_overrides, yaml_scalar
from plait.train.callbacks import Pruned


@dataclass(frozen=True)
class TrialPlan:
    """Everything a worker needs to turn parameters into runs (plain values, no config objects)."""

    experiment: str
    overrides: list[str]
    sweep: str
    runs_dir: Path
    seeds: list[int] | None
    metric: str
    split: str


@dataclass
class TrialOutcome:
    """What the trial's runs gave."""

    state: str
    """complete | pruned | failed"""
    value: float | None = None
    values: list[float] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    error: str | None = None


def objective_value(run: RunDir, metric: str, split: str) -> float:
    """The metric on `split` from eval/<split>.json, or for 'loss' the last in-training validation loss."""
    if metric == "loss":
        losses = [r["loss"] for r in atomic.read_jsonl(run.metrics) if r.get("split") == "validation" and "loss" in r]
        if not losses:
            raise KeyError(f"{run.path}: no validation loss in metrics.jsonl")
        return float(losses[-1])
    record = run.eval_result(split)
    if record is None or metric not in record.get("metrics", {}):
        raise KeyError(f"{run.path}: eval/{split}.json has no {metric!r}")
    return float(record["metrics"][metric])


def run_trial(plan: TrialPlan, number: int, params: dict[str, Any],
              on_validation: Callable[[int, dict[str, float]], None] | None) -> TrialOutcome:
    """Run the trial's seeds in turn; `on_validation` (pruning) watches the first seed only, whose steps are
    comparable across trials."""
    from plait.pipeline import run_experiment  # the training stack loads in the worker only

    tags = [f"tags.sweep={yaml_scalar(plan.sweep)}", f"tags.trial={yaml_scalar(str(number))}"]
    common = [*plan.overrides, *as_overrides(params), f"output_dir={yaml_scalar(str(plan.runs_dir))}", *tags]
    seeds = plan.seeds if plan.seeds is not None else [None]
    outcome = TrialOutcome("complete")
    for index, seed in enumerate(seeds):
        exp = load_experiment(plan.experiment, common + ([f"seed={seed}"] if seed is not None else []))
        try:
            run = run_experiment(exp, progress=False, argv=["plait", "sweep", plan.sweep, f"trial={number}"],
                                 on_validation=on_validation if index == 0 else None)
            outcome.runs.append(str(run.path))
            outcome.values.append(objective_value(run, plan.metric, plan.split))
        except Pruned:
            outcome.state = "pruned"
            return outcome
        except Exception as err:  # a failed trial is a result of the sweep, not the end of it
            outcome.state, outcome.error = "failed", f"{type(err).__name__}: {err}"
            return outcome
    outcome.value = statistics.fmean(outcome.values)
    return outcome


def trial_runs(runs_dir: Path, sweep: str, number: int) -> list[RunDir]:
    """The run directories tagged with this sweep and trial number."""
    found = []
    for status_file in sorted(runs_dir.glob("*/*/status.json")) if runs_dir.is_dir() else []:
        run = RunDir(status_file.parent)
        try:
            tags = run.status().tags
        except CorruptStatus:
            continue
        if tags.get("sweep") == sweep and tags.get("trial") == str(number):
            found.append(run)
    return found
