"""Read a sweep file, apply `--set sweep.KEY=VALUE` overrides, validate, and check it against its experiment."""

from __future__ import annotations

from pathlib import Path

from plait.config.load import Override, load_document, load_experiment, parse_overrides, validate
from plait.config.schema import Experiment
from plait.errors import UserError
from plait.sweep.config import SweepConfig
from plait.sweep.space import as_overrides, example, grid_size
from plait.evaluate.metrics import LOWER_IS_BETTER

SWEEP_PREFIX = "sweep."


def split_overrides(items: list[str]) -> tuple[list[str], list[str]]:
    """`--set` items for the sweep file (prefixed `sweep.`) and for the experiment (the rest)."""
    sweep = [item.removeprefix(SWEEP_PREFIX) for item in items if item.startswith(SWEEP_PREFIX)]
    return sweep, [item for item in items if not item.startswith(SWEEP_PREFIX)]


def load_sweep(path: str | Path, overrides: list[str] | None = None) -> SweepConfig:
    """Load and validate a sweep file; raise ConfigError listing every problem."""
    raw, source, base_dir = load_document(path, "sweep")
    raw.setdefault("name", Path(path).stem)
    items = [Override(o.key, o.value, f"--set {SWEEP_PREFIX}{o.key}") for o in parse_overrides(overrides or [])]
    return validate(SweepConfig, raw, source, items, base_dir)


def objective_metric(cfg: SweepConfig, exp: Experiment) -> tuple[str, str]:
    """The objective's metric and direction, defaults resolved from the experiment."""
    metric = cfg.metric or exp.eval.headline
    direction = cfg.direction or ("minimize" if metric in LOWER_IS_BETTER else "maximize")
    return metric, direction


def base_overrides(cfg: SweepConfig, exp_overrides: list[str], exp: Experiment) -> list[str]:
    """Overrides every trial gets before its parameters: the sweep's, `--set`'s, and the objective split."""
    items = [*cfg.overrides, *exp_overrides]
    if cfg.split not in exp.eval.splits:
        items.append(f"eval.splits={[*exp.eval.splits, cfg.split]}")
    return items


def check_against_experiment(cfg: SweepConfig, exp_overrides: list[str], where: str) -> tuple[Experiment, list[str]]:
    """The experiment with an example of every parameter, and the overrides every trial starts from;
    raise UserError on any mismatch between the sweep and the experiment."""
    base = base_overrides(cfg, exp_overrides, load_experiment(cfg.experiment, [*cfg.overrides, *exp_overrides]))
    exp = load_experiment(cfg.experiment, [*base, *as_overrides(example(cfg.space))])
    metric, _ = objective_metric(cfg, exp)
    if metric not in exp.produced_metrics():
        raise UserError(f"{where}: metric: {metric!r} is not computed by the experiment; "
                        f"valid: {', '.join(exp.produced_metrics())} (loss and eval.metrics)")
    needs_validation = cfg.pruner.kind != "none" or metric == "loss"
    if needs_validation and exp.train.eval_every <= 0:
        what = f"pruner {cfg.pruner.kind}" if cfg.pruner.kind != "none" else "metric loss"
        raise UserError(f"{where}: {what} needs validation during training; add "
                        f"`train.eval_every=N` to the sweep's overrides (N optimizer steps between evaluations)")
    if cfg.pruner.kind != "none" and getattr(exp, "stages", None):
        raise UserError(f"{where}: pruner: staged experiments restart their step count per stage; use pruner kind none")
    if cfg.sampler.kind == "grid":
        size = grid_size(cfg.space, where)
        if cfg.n_trials is not None and cfg.n_trials > size:
            raise UserError(f"{where}: n_trials: {cfg.n_trials} is more than the grid's {size} combinations")
    return exp, base


def trial_count(cfg: SweepConfig, where: str) -> int:
    """Trials the sweep runs: n_trials, or the grid size."""
    return cfg.n_trials if cfg.n_trials is not None else grid_size(cfg.space, where)
