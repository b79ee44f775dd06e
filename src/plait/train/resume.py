"""Exact resume: which run and checkpoint to continue, whether the config still fits, and the state
the Trainer's checkpoint leaves out.

A Trainer checkpoint holds the model, optimizer, scheduler, RNG states and the step (from which the
data position follows). plait adds `plait_state.json`: the loss accumulated since the last log (so
the first logged loss after a resume averages the same steps), the evaluator's best value and
patience, and how far metrics.jsonl had been written (later lines are dropped on resume).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml

from plait.core.trainer_imports import Trainer, TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from plait.errors import UserError
from plait.runs.configs import with_defaults
from plait.runs.dicts import differences, under
from plait.runs import atomic
from plait.runs.rundir import COMPLETE_MARKER, RunDir, runner_alive
from plait.train.callbacks import Evaluator

STATE_FILE = "plait_state.json"
FREE_TO_CHANGE = (
    "name", "output_dir", "tags", "eval", "dry_run", "train.log_every", "train.save_every",
    "train.keep_checkpoints", "train.num_workers", "train.save_init", "launch.launcher", "launch.ray",
    "launch.slurm.partition", "launch.slurm.account", "launch.slurm.cpus_per_task", "launch.slurm.time_min",
    "launch.slurm.signal_delay_s", "launch.slurm.max_requeues", "launch.slurm.array_parallelism",
    "launch.slurm.sbatch",
)
"""Config keys a resume may change: they decide what is logged, saved, evaluated or where it runs, not the
weights. Everything else (model, data, batch size, schedule, seed, number of processes...) must match."""


class ResumeState(TrainerCallback):
    """Writes plait_state.json into each checkpoint and restores it when training resumes."""

    def __init__(self, run: RunDir, evaluator: Evaluator, resume_from: Path | None) -> None:
        self.run = run
        self.evaluator = evaluator
        self.resume_from = resume_from
        self.trainer: Trainer | None = None

    def bind(self, trainer: Trainer) -> None:
        """The Trainer whose loss accumulator this callback saves and restores."""
        self.trainer = trainer

    def on_save(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        losses = [self.trainer._tr_loss.item()]
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            # each rank accumulates the loss of its own shard: keep all, so every rank gets its own back
            losses = [None] * torch.distributed.get_world_size()
            torch.distributed.all_gather_object(losses, self.trainer._tr_loss.item())
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if not state.is_world_process_zero or not folder.is_dir():
            return
        atomic.write_json(folder / STATE_FILE, {
            "step": state.global_step,
            "loss_since_log": losses[0],
            "loss_since_log_per_rank": losses,
            "last_logged_step": self.trainer._globalstep_last_logged,
            "metrics_bytes": self.run.metrics.stat().st_size if self.run.metrics.exists() else 0,
            "evaluator": {"best": self.evaluator.best, "best_step": self.evaluator.best_step,
                          "bad_evals": self.evaluator.bad_evals},
        })

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                       **kwargs: Any) -> None:
        saved = atomic.read_json(self.resume_from / STATE_FILE) if self.resume_from else None
        if not saved:
            return
        # the Trainer zeroes these at the start of train(); without them the first logged loss after
        # a resume would average only the steps since the checkpoint
        per_rank = saved.get("loss_since_log_per_rank") or [saved["loss_since_log"]]
        rank = args.process_index if args.process_index < len(per_rank) else 0
        self.trainer._tr_loss = torch.tensor(per_rank[rank], device=args.device)
        self.trainer._globalstep_last_logged = saved["last_logged_step"]
        best = saved["evaluator"]
        self.evaluator.best, self.evaluator.best_step = best["best"], best["best_step"]
        self.evaluator.bad_evals = best["bad_evals"]


@dataclass
class ResumePlan:
    """What resuming a run will do, decided before anything is changed."""

    run: RunDir
    checkpoint: Path | None
    """The last complete checkpoint, or None to start over (the run died before its first one)."""
    metrics_bytes: int | None
    """metrics.jsonl is cut back to this many bytes, what had been logged when the checkpoint was made
    (None: a checkpoint without plait_state.json; events after its step are dropped instead)."""
    partial: list[Path] = field(default_factory=list)
    """Incomplete checkpoint folders (a crash while writing them); removed."""
    forced: list[str] = field(default_factory=list)
    """Config changes that matter, accepted with --force."""

    @property
    def step(self) -> int:
        return int(self.checkpoint.name.split("-")[1]) if self.checkpoint else 0


def find_run(output_dir: str | Path, experiment: str, given: str | None) -> RunDir:
    """The run to resume: `given` (a run directory or a run id), or the latest unfinished non-dry run."""
    parent = Path(output_dir) / experiment
    if given:
        path = Path(given) if Path(given).is_dir() else parent / given
        if not (path / "status.json").exists():
            raise UserError(f"--resume {given}: not a run directory (looked for {path}/status.json)")
        return RunDir(path)
    runs = [RunDir(p.parent) for p in parent.glob("*/status.json")] if parent.is_dir() else []
    open_runs = [r for r in runs if not r.is_dry_run and r.status().state != "finished"]
    if not open_runs:
        raise UserError(f"--resume: no unfinished run of {experiment!r} under {parent}; "
                        "start one with `plait run` (without --resume)")
    return max(open_runs, key=lambda r: (r.status().started or "", r.name))


def config_changes(saved: dict[str, Any], new: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(changes that matter, harmless changes), one 'key: old -> new' line each."""
    matter, harmless = [], []
    for key, old, value in differences(saved, new):
        (harmless if under(key, FREE_TO_CHANGE) else matter).append(f"{key}: {old!r} -> {value!r}")
    return matter, harmless


def plan_resume(run: RunDir, new_config: dict[str, Any], force: bool) -> ResumePlan:
    """Check that `run` can be continued with `new_config`; raise UserError listing what stands in the way."""
    status = run.status()
    if status.state == "finished":
        raise UserError(f"--resume: {run.path} already finished; nothing to resume")
    if status.dry_run:
        raise UserError(f"--resume: {run.path} is a dry run; start a new one instead")
    if runner_alive(status) and not force:
        raise UserError(f"--resume: {run.path} is still running (pid {status.pid}); stop it first, "
                        "or pass --force if that process is gone")
    saved = yaml.safe_load(run.config.read_text()) if run.config.exists() else None
    if saved is None:
        raise UserError(f"--resume: {run.path} has no config.yaml; it cannot be resumed")
    matter, _ = config_changes(with_defaults(saved), new_config)
    if matter and not force:
        raise UserError(f"--resume: the experiment changed since {run.path} started, in ways that change "
                        f"training; resume with the original config, or pass --force to continue anyway:",
                        *(f"  {line}" for line in matter))
    complete = run.complete_checkpoints()
    checkpoint = complete[-1] if complete else None
    partial = [p for pattern in ("step-*", "checkpoint-*") for p in run.checkpoints.glob(pattern)
               if p.is_dir() and not (p / COMPLETE_MARKER).exists()]
    state = atomic.read_json(checkpoint / STATE_FILE, default={}) if checkpoint else {"metrics_bytes": 0}
    return ResumePlan(run, checkpoint, state.get("metrics_bytes"), sorted(partial), matter)


def apply_plan(plan: ResumePlan) -> None:
    """Remove partial checkpoints and the metrics logged after the checkpoint."""
    for path in plan.partial:
        shutil.rmtree(path, ignore_errors=True)
    metrics = plan.run.metrics
    if not metrics.exists():
        return
    if plan.metrics_bytes is None:
        kept = [json.dumps(r) + "\n" for r in atomic.read_jsonl(metrics) if r.get("step", 0) <= plan.step]
        atomic.write_text(metrics, "".join(kept))
    elif metrics.stat().st_size > plan.metrics_bytes:
        atomic.write_text(metrics, metrics.read_bytes()[: plan.metrics_bytes].decode())
