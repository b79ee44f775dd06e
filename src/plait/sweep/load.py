"""Read a sweep file, apply `--set sweep.KEY=VALUE` overrides, validate, and check it against its experiment."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from plait.config.load import apply_overrides, load_experiment
from plait.config.schema import Experiment
from plait.errors import ConfigError, UserError
from plait.sweep import config as schema
from plait.sweep.config import SweepConfig
from plait.sweep.space import as_overrides, example, grid_size
from plait.evaluate.metrics import LOWER_IS_BETTER

SWEEP_PREFIX = "sweep."
_TAGGED = {
    typing.get_args(cls.model_fields["kind"].annotation)[0]: cls
    for cls in vars(schema).values()
    if isinstance(cls, type) and issubclass(cls, BaseModel) and "kind" in cls.model_fields
}


def split_overrides(items: list[str]) -> tuple[list[str], list[str]]:
    """`--set` items for the sweep file (prefixed `sweep.`) and for the experiment (the rest)."""
    sweep = [item.removeprefix(SWEEP_PREFIX) for item in items if item.startswith(SWEEP_PREFIX)]
    return sweep, [item for item in items if not item.startswith(SWEEP_PREFIX)]


def load_sweep(path: str | Path, overrides: list[str] | None = None) -> SweepConfig:
    """Load and validate a sweep file; raise ConfigError listing every problem."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: sweep file not found")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise UserError(f"{path}: not valid YAML ({getattr(err, 'problem', err)})") from None
    if not isinstance(raw, dict):
        raise UserError(f"{path}: a sweep must be a mapping of keys, got {type(raw).__name__}")
    raw = apply_overrides(raw, overrides or [], str(path))
    raw.setdefault("name", path.stem)
    try:
        return SweepConfig.model_validate(raw, context={"base_dir": str(path.resolve().parent)})
    except ValidationError as err:
        raise ConfigError(*format_errors(err, str(path))) from None


def format_errors(err: ValidationError, source: str) -> list[str]:
    """One line per problem: file, dotted field (union tags left out), and what is allowed."""
    lines = []
    for e in err.errors():
        owner, path = _walk(e["loc"])
        field = ".".join(path) or "(top level)"
        if e["type"] == "extra_forbidden":
            valid = ", ".join(sorted(owner.model_fields)) if owner else "?"
            lines.append(f"{source}: {field}: unknown key; valid keys here: {valid}")
        elif e["type"] == "missing":
            lines.append(f"{source}: {field}: required but missing")
        else:
            given = e.get("input")
            shown = "" if isinstance(given, (dict, list)) else f"got {given!r}: "
            lines.append(f"{source}: {field}: {shown}{e['msg'].removeprefix('Value error, ')}")
    return lines


def _walk(loc: tuple[Any, ...]) -> tuple[type[BaseModel] | None, list[str]]:
    """The model that owns the last part of an error location, and the location without union tags."""
    model: type[BaseModel] | None = SweepConfig
    owner, path = model, []
    for part in loc:
        owner = model
        if model is not None and part in model.model_fields:
            annotation = model.model_fields[part].annotation
            model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
            path.append(str(part))
        elif model is None and part in _TAGGED:
            model = _TAGGED[part]  # the tag pydantic puts in the location of a discriminated union member
        else:
            path.append(str(part))  # a key of a mapping (a searched config key)
            model = None
    return owner, path


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
