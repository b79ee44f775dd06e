"""The Optuna side of a sweep: storage, sampler and pruner built from the sweep config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna

from plait.errors import UserError
from plait.sweep.config import SweepConfig
from plait.sweep.space import grid_values

FINGERPRINT = "plait_sweep"


optuna.logging.set_verbosity(optuna.logging.WARNING)


class KeepGoingGrid(optuna.samplers.GridSampler):
    """GridSampler without its study.stop() after a trial: plait's workers count trials themselves, and
    stop() is an error outside study.optimize (plait uses ask and tell)."""

    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        return None


def sweep_dir(cfg: SweepConfig) -> Path:
    """The sweep folder: `<output_dir>/<name>`."""
    return (Path(cfg.output_dir) / cfg.name).resolve()


def storage(cfg: SweepConfig) -> Any:
    """The database URL, or a journal file in the sweep folder (safe for several local processes)."""
    if cfg.storage is not None:
        return cfg.storage
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    path = sweep_dir(cfg) / "journal.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path))))


def sampler(cfg: SweepConfig, where: str, number: int = 0) -> Any:
    """The Optuna sampler for cfg.sampler, seeded for trial `number`.

    Random draws are seeded per trial (seed + number): parallel workers with one seed would otherwise draw
    the same points, and a one-worker sweep stays reproducible. The grid's seed only orders the grid, which
    every worker must share.
    """
    samplers = optuna.samplers
    kind = cfg.sampler
    if kind.kind == "grid":
        return KeepGoingGrid(grid_values(cfg.space, where), seed=kind.seed)
    if kind.kind == "random":
        return samplers.RandomSampler(seed=kind.seed + number)
    return samplers.TPESampler(seed=kind.seed + number, n_startup_trials=kind.n_startup_trials,
                               multivariate=kind.multivariate, constant_liar=kind.constant_liar)


def pruner(cfg: SweepConfig) -> Any:
    """The Optuna pruner for cfg.pruner."""
    pruners = optuna.pruners
    kind = cfg.pruner
    if kind.kind == "median":
        return pruners.MedianPruner(n_startup_trials=kind.n_startup_trials, n_warmup_steps=kind.n_warmup_steps)
    if kind.kind == "successive_halving":
        return pruners.SuccessiveHalvingPruner(min_resource=kind.min_resource, reduction_factor=kind.reduction_factor)
    if kind.kind == "hyperband":
        return pruners.HyperbandPruner(min_resource=kind.min_resource, max_resource=kind.max_resource,
                                       reduction_factor=kind.reduction_factor)
    return pruners.NopPruner()


def fingerprint(cfg: SweepConfig, exp_overrides: list[str]) -> str:
    """What must not change between a sweep and its resumption: the search (n_trials may grow, to extend it)."""
    keep = cfg.model_dump(mode="json", include={"experiment", "overrides", "space", "sampler", "pruner", "metric",
                                                 "split", "direction", "seeds", "skip_duplicates"})
    return json.dumps({**keep, "set": exp_overrides}, sort_keys=True)


def open_study(cfg: SweepConfig, direction: str, where: str, exp_overrides: list[str], create: bool) -> Any:
    """Create the study (create=True; it must not exist) or load it (it must exist, with the same search)."""
    store = storage(cfg)
    exists = cfg.name in {s.study_name for s in optuna.get_all_study_summaries(store)}
    if create and exists:
        raise UserError(f"{where}: sweep {cfg.name!r} already exists in {sweep_dir(cfg)}; add --resume to continue "
                        f"it, or give it another name (--set sweep.name=...)")
    if not create and not exists:
        raise UserError(f"{where}: --resume: no sweep {cfg.name!r} in {sweep_dir(cfg)} to resume; run without --resume")
    study = optuna.create_study(study_name=cfg.name, storage=store, direction=direction, load_if_exists=not create,
                                sampler=sampler(cfg, where), pruner=pruner(cfg))
    mark = fingerprint(cfg, exp_overrides)
    if create:
        study.set_user_attr(FINGERPRINT, mark)
    elif study.user_attrs.get(FINGERPRINT) != mark:
        was = json.loads(study.user_attrs.get(FINGERPRINT, "{}"))
        now = json.loads(mark)
        changed = sorted(k for k in set(was) | set(now) if was.get(k) != now.get(k))
        raise UserError(f"{where}: --resume: the search changed since the sweep started ({', '.join(changed)}); "
                        f"restore it, or start a new sweep under another name")
    return study


def load_study(cfg: SweepConfig, where: str) -> Any:
    """The existing study, for a worker process."""
    return optuna.load_study(study_name=cfg.name, storage=storage(cfg), sampler=sampler(cfg, where),
                             pruner=pruner(cfg))

