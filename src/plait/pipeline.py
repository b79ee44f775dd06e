"""One experiment end to end: data -> model -> train -> run directory -> evaluation."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from rich.console import Console

from plait.config.load import with_overrides
from plait.config.schema import Experiment
from plait.data.dataset import load_splits, screen
from plait.data.normalize import normalize_targets
from plait.errors import Terminated, UserError, check_writable_folder
from plait.evaluate.evaluate import write_eval
from plait.evaluate.tasks import runner
from plait.evaluate.generate import derive_max_new_tokens, mean_loss
from plait.runs.ranks import is_main_process
from plait.models.config import FamilyConfig
from plait.models.family import BuildOptions, Built, saved_family
from plait.models.preflight import check_model
from plait.models.registry import get_family
from plait.runs import atomic, lock
from plait.runs.env import capture_env
from plait.runs.load import load_run  # noqa: F401  (re-exported)
from plait.runs.rundir import RunDir, create_run_dir, now
from plait.train.averaging import average_last_checkpoints
from plait.train.callbacks import Pruned
from plait.train.loop import train
from plait.train.nonfinite import NonFiniteTraining
from plait.train.pickles import check_tensors_only
from plait.train.preempt import terminations_raised
from plait.train.resume import ResumePlan, apply_plan
from plait.train.seed import seed_everything
from plait.train.stages import train_stages
from plait.train.tracking import tracked_experiment

console = Console(stderr=True)


@dataclasses.dataclass
class Prepared:
    """Data loaded and screened, before anything is written."""

    splits: dict[str, list[Any]]
    reports: dict[str, Any]


def prepare_data(exp: Experiment, dry_run: bool) -> Prepared:
    """Load and screen every split; raises UserError before any run directory exists."""
    family = get_family(exp.model.family)
    missing = exp.data.missing_files()
    if missing:
        raise UserError(missing[0] + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    limit = exp.dry_run.max_samples if dry_run else None
    splits = load_splits(exp.data, exp.seed, exp.model.media_token(), limit)
    clean = exp.data.normalize_targets
    if clean is not None:
        splits["train"] = normalize_targets(splits["train"], clean.lowercase, clean.punctuation, clean.stopwords,
                                            clean.keep)
    hint = getattr(exp.data.source, "media_hint", lambda: "")()
    kept, reports = screen(splits, family.checker(exp.model), exp.data.max_bad_fraction, hint)
    return Prepared(kept, {k: dataclasses.asdict(v) for k, v in reports.items()})


def preflight(exp: Experiment) -> None:
    """What can fail before any data is read or run directory made: the output folder, the model's configs and
    checkpoints (instantiated by transformers, found offline)."""
    check_writable_folder(exp.output_dir, "output_dir")
    check_model(exp.model)
    if problems := exp.teacher_problems():
        raise UserError(problems[0])


def dry_run_experiment(exp: Experiment) -> Experiment:
    """`exp` shortened to `dry_run.max_steps` per stage, validated again."""
    steps = exp.dry_run.max_steps
    changes = {"train.max_steps": steps, **{f"stages.{i}.train.max_steps": steps for i in range(len(exp.stages))}}
    sections = [("train", exp.train), *((f"stages.{i}.train", s.train) for i, s in enumerate(exp.stages))]
    changes |= {f"{key}.schedule.warmup_steps": 0 for key, train in sections  # a few steps have no room for it
                if getattr(train.schedule, "warmup_steps", 0) >= steps}
    return with_overrides(exp, changes, "--dry-run")


def run_experiment(exp: Experiment, dry_run: bool = False, progress: bool = True,
                   argv: list[str] | None = None,
                   on_validation: Callable[[int, dict[str, float]], None] | None = None,
                   run: RunDir | None = None) -> RunDir:
    """Train, save and evaluate `exp` in a new run directory (or `run`, made by a launcher); return it.

    `on_validation(step, values)` sees each in-training validation before the last step; raising Pruned ends
    the run as pruned.
    """
    with terminations_raised():
        preflight(exp)
        data = prepare_data(exp, dry_run)
        if exp.init_from:
            init_folder(exp.init_from, exp.model)  # before any run directory exists
        if dry_run:
            exp = dry_run_experiment(exp)
        fresh = run is None
        run = run or create_run_dir(exp.output_dir, exp.name, dry_run, hold=is_main_process())
        with discarded_on_bad_input(run, fresh), writing(run), failure_recorded(run):
            if is_main_process():  # the other ranks of a distributed run only train
                atomic.write_yaml(run.config, exp.model_dump(mode="json"))
                atomic.write_json(run.env, capture_env(exp.seed, argv if argv is not None else sys.argv))
                atomic.write_json(run.data_report, data.reports)
                run.update_status(tags=exp.tags, pid=os.getpid())
            console.print(f"[bold]plait[/] {exp.name}: run directory [cyan]{run.path}[/]"
                          + (" (dry run)" if dry_run else ""))
            with tracked_experiment(exp, run):
                execute(exp, run, data, progress, on_validation=on_validation)
    return run


def resume_experiment(exp: Experiment, plan: ResumePlan, progress: bool = True,
                      argv: list[str] | None = None) -> RunDir:
    """Continue a run from its last complete checkpoint (see plait.train.resume.plan_resume); return it."""
    run = plan.run
    with terminations_raised(), writing(run):
        return _resume(exp, plan, progress, argv)


def _resume(exp: Experiment, plan: ResumePlan, progress: bool, argv: list[str] | None) -> RunDir:
    if plan.checkpoint is not None:
        check_tensors_only(plan.checkpoint)  # before anything in the run directory changes
    data = prepare_data(exp, dry_run=False)
    run = plan.run
    env = capture_env(exp.seed, argv if argv is not None else sys.argv)
    changed_env = [k for k in ("packages", "devices", "git") if env.get(k) != atomic.read_json(run.env, {}).get(k)]
    if is_main_process():  # the other ranks of a distributed run only read the checkpoint
        apply_plan(plan)
        atomic.write_yaml(run.config, exp.model_dump(mode="json"))
    resumes = [*run.status().resumes, {"at": now(), "from_step": plan.step, "pid": os.getpid(),
                                                 "env_changed": changed_env, "forced": plan.forced}]
    run.update_status(state="running", pid=os.getpid(), error=None, finished=None, resumes=resumes)
    run.log({"step": plan.step, "split": "event", "event": "resumed", "checkpoint": str(plan.checkpoint),
             "env_changed": changed_env, "forced": plan.forced})
    where = f"from {plan.checkpoint.name}" if plan.checkpoint else "from the start (no complete checkpoint)"
    console.print(f"[bold]plait[/] {exp.name}: resuming [cyan]{run.path}[/] {where}")
    with failure_recorded(run), tracked_experiment(exp, run, resuming=True):
        execute(exp, run, data, progress, resume_from=plan.checkpoint)
    return run


@contextlib.contextmanager
def writing(run: RunDir) -> Iterator[None]:
    """Hold the run directory's one-writer lock (rank 0 for every rank of a multi-process run) while the block runs."""
    if not is_main_process():
        yield
        return
    lock.acquire(run.path)
    try:
        yield
    finally:
        lock.release(run.path)


@contextlib.contextmanager
def failure_recorded(run: RunDir) -> Iterator[None]:
    """Mark the run failed (with the error) if the block raises."""
    try:
        yield
    except Pruned as stop:
        run.update_status(state="pruned", step=stop.step, pruned_step=stop.step, finished=now())
        raise
    except KeyboardInterrupt:
        run.update_status(state="failed", error="interrupted", finished=now())
        raise
    except Terminated:
        run.update_status(state="failed", error=f"terminated during {phase(run)}", finished=now())
        raise
    except NonFiniteTraining as err:
        run.update_status(state="failed", error=str(err), nonfinite=err.record, finished=now())
        raise
    except BaseException as err:
        run.update_status(state="failed", error=f"{type(err).__name__}: {err}", finished=now())
        raise


@contextlib.contextmanager
def discarded_on_bad_input(run: RunDir, fresh: bool) -> Iterator[None]:
    """Remove a run directory this process just made when bad input (a UserError) stops it during set-up
    (building the model, its teacher, its sparsity masks): no run started, so none is left behind. A run that
    trained a step, saved a checkpoint or a model keeps its directory, marked failed."""
    try:
        yield
    except UserError:
        if fresh and is_main_process() and phase(run) == "set-up":
            shutil.rmtree(run.path, ignore_errors=True)
            with contextlib.suppress(OSError):
                run.path.parent.rmdir()  # the experiment's folder, when this was its only run
        raise


def phase(run: RunDir) -> str:
    """What a run was doing, from what it has written: set-up, training or final evaluation."""
    if run.model.is_dir():
        return "final evaluation"
    return "training" if run.status().step > 0 or run.complete_checkpoints() else "set-up"


def execute(exp: Experiment, run: RunDir, data: Prepared, progress: bool, resume_from: Path | None = None,
            on_validation: Callable[[int, dict[str, float]], None] | None = None) -> None:
    """Seed, build, train, save and evaluate into an existing run directory."""
    start = time.perf_counter()
    seed_everything(exp.seed, exp.deterministic)
    family = get_family(exp.model.family)
    options = BuildOptions(label_smoothing=exp.train.label_smoothing)
    if exp.init_from:
        built = family.load(init_folder(exp.init_from, exp.model), exp.model, options)
    else:
        built = family.build(exp.model, data.splits["train"], options)
    run.log({"step": 0, "split": "event", "event": "built", **built.info})
    max_new = exp.eval.max_new_tokens or derive_max_new_tokens(built.processor, data.splits["train"])
    validation = data.splits.get("validation") or []
    if not validation and any(t.eval_every > 0 for t in [exp.train, *(s.train for s in exp.stages)]):
        raise UserError("train.eval_every is set but the data has no validation split "
                        "(add one, or set data.validation_from_train)")
    if exp.eval.validation_samples:
        validation = validation[: exp.eval.validation_samples]

    def evaluate_validation() -> dict[str, float]:
        if not validation:
            raise UserError("train.eval_every is set but the data has no validation split "
                            "(add one, or set data.validation_from_train)")
        values = {"loss": mean_loss(built.model, built.processor, validation, exp.eval.batch_size)}
        values |= source_losses(exp, built, validation)
        result, _ = runner(exp.eval.task)(built, evaluated(exp, validation), exp.eval, max_new, False)
        return values | result["values"]

    if exp.stages:
        first = (run.status().stage_index or 0) if resume_from else 0
        result = train_stages(exp.stages, run, built, data.splits["train"], exp.seed, evaluate_validation,
                              resume_from, first, progress, on_validation, mix=exp.data.mix)
    else:
        result = train(exp.train, run, built, data.splits["train"], exp.seed, evaluate_validation,
                       resume_from=resume_from, progress=progress, on_validation=on_validation, mix=exp.data.mix)
    if result.preempted:
        run.update_status(state="preempted", step=result.steps, epoch=result.epoch, best=result.best,
                          checkpoint=f"checkpoints/step-{result.steps}", preempted=now())
        return
    if not is_main_process():  # rank 0 saves and evaluates the model every rank trained
        return
    if exp.train.average_checkpoints:
        averaged = average_last_checkpoints(run, built.model, exp.train.average_checkpoints)
        run.log({"step": result.steps, "split": "event", "event": "averaged_checkpoints", "steps": averaged})
        run.update_status(averaged_checkpoints=averaged)
    family.save(built, exp.model, run.model)
    run.update_status(step=result.steps, epoch=result.epoch, best=result.best, stopped_early=result.stopped_early,
                      train_seconds=round(time.perf_counter() - start, 2))
    metrics = evaluate_run_splits(exp, run, built, data, max_new, progress)
    headline = metrics.get("test", metrics.get("validation", {})).get(exp.eval.headline)
    run.update_status(state="finished", finished=now(), metrics=metrics,
                      headline={"metric": exp.eval.headline, "value": headline},
                      seconds=round(time.perf_counter() - start, 2))


def evaluate_run_splits(exp: Experiment, run: RunDir, built: Built, data: Prepared, max_new: int,
                        progress: bool) -> dict[str, dict[str, float]]:
    """Evaluate the configured splits; write eval/ and predictions/; return {split: metrics}."""
    metrics = {}
    extra = {}
    if exp.train.sparsity is not None:  # measured on the weights evaluated, after any averaging or best reload
        from plait.train.sparsity.masks import report as sparsity_report

        extra["sparsity"] = sparsity_report(built.model, exp.train.sparsity)
        run.update_status(sparsity=extra["sparsity"])
    for split in exp.eval.splits:
        every = data.splits.get(split) or []
        samples = evaluated(exp, every)
        if not samples:
            continue
        result, predictions = runner(exp.eval.task)(built, samples, exp.eval, max_new, progress)
        result["values"] |= source_losses(exp, built, every)
        report = data.reports.get(split, {})
        coverage = {"evaluated": len(samples), "total": report.get("total", len(samples)),
                    "left_out": report.get("skipped", {})}
        record = write_eval(run, split, samples, predictions, {**result, **extra}, coverage)
        coverage = record["coverage"]  # the task may leave samples out too (e.g. unlabelled ones)
        status = run.status()  # a staged run's records also count the steps of every stage (global_step)
        steps = {"step": status.step, **({"global_step": status.global_step} if status.global_step is not None else {})}
        run.log({**steps, "split": split, **record["metrics"]})
        metrics[split] = record["metrics"]
        shown = ", ".join(f"{k} {v:.2f}" for k, v in record["metrics"].items())
        console.print(f"[bold]{split}[/]: {shown}  ({coverage['evaluated']}/{coverage['total']} samples)")
    return metrics


def evaluated(exp: Experiment, samples: list[Any]) -> list[Any]:
    """The samples the evaluation task scores: all, or with a data mix those of its eval source."""
    mix = exp.data.mix
    return samples if mix is None else [s for s in samples if s.meta.get("source") == mix.evaluated]


def source_losses(exp: Experiment, built: Built, samples: list[Any]) -> dict[str, float]:
    """With a data mix: loss_<name> (mean over target tokens) and perplexity_<name> = exp(loss_<name>) per source."""
    import math

    if exp.data.mix is None:
        return {}
    values = {}
    for part in exp.data.mix.sources:
        group = [s for s in samples if s.meta.get("source") == part.name]
        if group:
            loss = mean_loss(built.model, built.processor, group, exp.eval.batch_size)
            values |= {f"loss_{part.name}": loss, f"perplexity_{part.name}": math.exp(min(loss, 700.0))}
    return values


def init_folder(path: str | Path, model: FamilyConfig) -> Path:
    """The saved model of the run named by `init_from`, checked against the experiment's `model`."""
    folder = Path(path) / "model"
    if not (folder / "plait_model.json").exists():
        raise UserError(f"init_from: {path} is not a run directory with a saved model (no model/plait_model.json)")
    family = saved_family(folder)
    if family != model.family:
        raise UserError(f"init_from: {path} holds a {family} model, the experiment a {model.family} one")
    saved = atomic.read_json(folder / "plait_model.json")
    diff = model.differences_from(type(model).model_validate(saved["model"]))
    if diff:
        raise UserError(f"init_from: the experiment's model differs from {path}'s in {', '.join(diff[:5])}; "
                        "only what the family lets continued training change may differ (e.g. freezing)")
    return folder
