"""One experiment end to end: data -> model -> train -> run directory -> evaluation."""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from plait.config.schema import Experiment
from plait.data.dataset import load_splits, screen
from plait.errors import UserError
from plait.evaluate.evaluate import evaluate_samples, write_eval
from plait.evaluate.generate import derive_max_new_tokens, mean_loss
from plait.models.family import Built, get_family
from plait.runs import atomic
from plait.runs.env import capture_env
from plait.runs.rundir import RunDir, create_run_dir, now
from plait.train.loop import train
from plait.train.seed import seed_everything

console = Console(stderr=True)


@dataclasses.dataclass
class Prepared:
    """Data loaded and screened, before anything is written."""

    splits: dict[str, list[Any]]
    reports: dict[str, Any]


def prepare_data(exp: Experiment, dry_run: bool) -> Prepared:
    """Load and screen every split; raises UserError before any run directory exists."""
    family = get_family(exp.model.family)
    limit = exp.dry_run.max_samples if dry_run else None
    splits = load_splits(exp.data, exp.seed, getattr(exp.model, "image_token", "<image>"), limit)
    kept, reports = screen(splits, family.check, exp.data.max_bad_fraction)
    return Prepared(kept, {k: dataclasses.asdict(v) for k, v in reports.items()})


def run_experiment(exp: Experiment, dry_run: bool = False, progress: bool = True,
                   argv: list[str] | None = None) -> RunDir:
    """Train, save and evaluate `exp` in a new run directory; return it."""
    data = prepare_data(exp, dry_run)
    if dry_run:
        exp = exp.model_copy(update={"train": exp.train.model_copy(update={"max_steps": exp.dry_run.max_steps})})
    run = create_run_dir(exp.output_dir, exp.name, dry_run)
    atomic.write_yaml(run.config, exp.model_dump(mode="json"))
    atomic.write_json(run.env, capture_env(exp.seed, argv if argv is not None else sys.argv))
    atomic.write_json(run.data_report, data.reports)
    run.update_status(tags=exp.tags)
    console.print(f"[bold]plait[/] {exp.name}: run directory [cyan]{run.path}[/]" + (" (dry run)" if dry_run else ""))
    try:
        execute(exp, run, data, progress)
    except KeyboardInterrupt:
        run.update_status(state="failed", error="interrupted", finished=now())
        raise
    except BaseException as err:
        run.update_status(state="failed", error=f"{type(err).__name__}: {err}", finished=now())
        raise
    return run


def execute(exp: Experiment, run: RunDir, data: Prepared, progress: bool) -> None:
    """Seed, build, train, save and evaluate into an existing run directory."""
    start = time.perf_counter()
    seed_everything(exp.seed, exp.deterministic)
    family = get_family(exp.model.family)
    built = family.build(exp.model, data.splits["train"], exp.train.label_smoothing)
    run.log({"step": 0, "split": "event", "event": "built", **built.info})
    max_new = exp.eval.max_new_tokens or derive_max_new_tokens(built.processor, data.splits["train"])
    validation = data.splits.get("validation") or []
    if exp.eval.validation_samples:
        validation = validation[: exp.eval.validation_samples]

    def evaluate_validation() -> dict[str, float]:
        if not validation:
            raise UserError("train.eval_every is set but the data has no validation split "
                            "(add one, or set data.validation_from_train)")
        values = {"loss": mean_loss(built.model, built.processor, validation, exp.eval.batch_size)}
        result, _ = evaluate_samples(built, validation, exp.eval, max_new, progress=False)
        return values | result["values"]

    result = train(exp.train, run, built, data.splits["train"], exp.seed, evaluate_validation, progress=progress)
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
    for split in exp.eval.splits:
        samples = data.splits.get(split)
        if not samples:
            continue
        result, predictions = evaluate_samples(built, samples, exp.eval, max_new, progress)
        report = data.reports.get(split, {})
        coverage = {"evaluated": len(samples), "total": report.get("total", len(samples)),
                    "left_out": report.get("skipped", {})}
        record = write_eval(run, split, samples, predictions, result, coverage)
        run.log({"step": run.status().get("step", 0), "split": split, **record["metrics"]})
        metrics[split] = record["metrics"]
        shown = ", ".join(f"{k} {v:.2f}" for k, v in record["metrics"].items())
        console.print(f"[bold]{split}[/]: {shown}  ({coverage['evaluated']}/{coverage['total']} samples)")
    return metrics


def load_run(path: str | Path) -> tuple[RunDir, Experiment, Built]:
    """A finished run's directory, experiment and reloaded model."""
    run = RunDir(Path(path))
    if not run.config.exists():
        raise UserError(f"{path}: not a run directory (no config.yaml)")
    if not (run.model / "plait_model.json").exists():
        raise UserError(f"{path}: the run has no saved model (status: {run.status().get('state', '?')})")
    import yaml

    exp = Experiment.model_validate(yaml.safe_load(run.config.read_text()))
    return run, exp, get_family(exp.model.family).load(run.model)
