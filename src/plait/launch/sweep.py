"""`plait sweep --launcher slurm|ray`: the sweep's study as usual, its trials run by the cluster."""

from __future__ import annotations

from typing import Any

from plait.config.launch import RayConfig, SlurmConfig
from plait.runs import atomic


def open_sweep(cfg: Any, exp_overrides: list[str], where: str, resume: bool) -> tuple[Any, Any, int]:
    """(trial plan, study, n_trials) of the sweep, created as `plait sweep` creates it, or resumed."""
    from plait.sweep import backend, ledger
    from plait.sweep.load import trial_count
    from plait.sweep.runner import plan_for

    plan, direction = plan_for(cfg, exp_overrides, where)
    study = backend.open_study(cfg, direction, where, exp_overrides, create=not resume)
    folder = backend.sweep_dir(cfg)
    if resume:
        with ledger.locked(folder):
            ledger.reap(study, cfg.stale_after_s, plan.runs_dir)
    else:
        atomic.write_yaml(folder / "sweep.yaml", {**cfg.model_dump(mode="json"), "set": exp_overrides})
    return plan, study, trial_count(cfg, where)


def sweep_on_ray(cfg: Any, exp_overrides: list[str], where: str, ray_cfg: RayConfig, resume: bool) -> Any:
    """Run the sweep's trials as Ray Tune trials; return the runner's SweepResult."""
    from plait.launch.ray import run_trials
    from plait.sweep import backend, ledger
    from plait.sweep.runner import SweepResult, best_trial

    plan, study, n_trials = open_sweep(cfg, exp_overrides, where, resume)
    left = n_trials - sum(ledger.counts(study).get(k, 0) for k in ("complete", "pruned", "fail"))
    ends = run_trials(cfg.model_dump(mode="json"), where, plan, left, ray_cfg, backend.sweep_dir(cfg) / "ray")
    return SweepResult(ledger.counts(study), n_trials, best_trial(study), [int(end != "ok") for end in ends])


def sweep_on_slurm(cfg: Any, exp_overrides: list[str], where: str, slurm: SlurmConfig, workers: int,
                   resume: bool) -> list[Any]:
    """Submit `workers` sweep workers as one job array (at most slurm.array_parallelism at once); return the jobs."""
    from plait.launch.slurm import make_executor
    from plait.sweep import backend
    from plait.sweep.runner import run_workers

    open_sweep(cfg, exp_overrides, where, resume)
    executor = make_executor(backend.sweep_dir(cfg) / "slurm", cfg.name, slurm)
    config = cfg.model_dump(mode="json")
    jobs = executor.map_array(run_workers, [config] * workers, [exp_overrides] * workers, [where] * workers)
    return list(jobs)
