"""A whole sweep: check it, create or resume its study, run the workers, report what ended."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from rich.console import Console

from plait.runs import atomic
from plait.sweep import backend, ledger
from plait.sweep.config import SweepConfig
from plait.sweep.load import check_against_experiment, objective_metric, trial_count
from plait.sweep.trial import TrialPlan
from plait.sweep.worker import launch, work

console = Console(stderr=True)


@dataclass
class SweepResult:
    """What a sweep invocation left in its study."""

    counts: dict[str, int]
    n_trials: int
    best: dict[str, Any] | None
    worker_exit_codes: list[int]

    @property
    def complete(self) -> bool:
        """Every slot has ended (complete, pruned, or failed for a reason other than a dead worker)."""
        ended = sum(self.counts.get(k, 0) for k in ("complete", "pruned", "fail"))
        return ended == self.n_trials


def plan_for(cfg: SweepConfig, exp_overrides: list[str], where: str) -> tuple[TrialPlan, str]:
    """The trial plan and the optimisation direction, after checking the sweep against its experiment."""
    exp, base = check_against_experiment(cfg, exp_overrides, where)
    metric, direction = objective_metric(cfg, exp)
    plan = TrialPlan(cfg.experiment, base, cfg.name, backend.sweep_dir(cfg) / "runs", cfg.seeds, metric, cfg.split)
    return plan, direction


def run_workers(config: dict[str, Any], exp_overrides: list[str], where: str) -> None:
    """One worker's whole life (in a process of its own, or in the sweep's process)."""
    cfg = SweepConfig.model_validate(config)
    plan, _ = plan_for(cfg, exp_overrides, where)
    study = backend.load_study(cfg, where)
    work(study, plan, cfg.space, trial_count(cfg, where), cfg.stale_after_s, cfg.pruner.kind != "none",
         lambda number: backend.sampler(cfg, where, number), cfg.skip_duplicates)


def run_sweep(cfg: SweepConfig, exp_overrides: list[str], where: str, workers: int = 1,
              resume: bool = False) -> SweepResult:
    """Run (or resume) the sweep to its n_trials with `workers` processes."""
    plan, direction = plan_for(cfg, exp_overrides, where)
    n_trials = trial_count(cfg, where)
    study = backend.open_study(cfg, direction, where, exp_overrides, create=not resume)
    folder = backend.sweep_dir(cfg)
    if not resume:
        atomic.write_yaml(folder / "sweep.yaml", {**cfg.model_dump(mode="json"), "set": exp_overrides})
    else:
        with ledger.locked(folder):
            dead = ledger.reap(study, cfg.stale_after_s, plan.runs_dir, resuming=True)
        if dead:
            console.print(f"[bold]plait sweep[/] {cfg.name}: trials {dead} were left running by a dead worker; "
                          f"marked failed, queued again with the same parameters")
    counts = ledger.counts(study)
    console.print(f"[bold]plait sweep[/] {cfg.name}: {n_trials} trials, {counts.get('complete', 0)} complete, "
                  f"{workers} worker(s); folder [cyan]{folder}[/]")
    config = cfg.model_dump(mode="json")
    codes: list[int] = []
    if workers == 1:
        run_workers(config, exp_overrides, where)
    else:
        codes = launch(workers, run_workers, (config, exp_overrides, where), max(1, (os.cpu_count() or 1) // workers))
    died = [i for i, code in enumerate(codes) if code != 0]
    if died:
        with ledger.locked(folder):
            ledger.reap(study, cfg.stale_after_s, plan.runs_dir)
        console.print(f"[yellow]workers {died} exited with codes {[codes[i] for i in died]}[/]; "
                      f"`plait sweep {where} --resume` retries what they left")
    return SweepResult(ledger.counts(study), n_trials, best_trial(study), codes)


def best_trial(study: Any) -> dict[str, Any] | None:
    """Number, value, parameters and runs of the best complete trial, or None."""
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return None
    best = study.best_trial
    return {"number": best.number, "value": best.value, "params": best.params,
            "runs": best.user_attrs.get(ledger.RUNS, [])}
