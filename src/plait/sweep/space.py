"""Search spaces: grids, Optuna suggestions, and the overrides a set of parameter values becomes."""

from __future__ import annotations

import math
from typing import Any

import yaml

from plait.errors import UserError
from plait.sweep.config import ChoiceParam, FloatParam, IntParam

Space = dict[str, ChoiceParam | IntParam | FloatParam]


def grid_values(space: Space, where: str) -> dict[str, list[Any]]:
    """Every value of each parameter; raises UserError for a range that cannot be enumerated."""
    grid = {}
    for key, param in space.items():
        if isinstance(param, ChoiceParam):
            grid[key] = param.encoded()
        elif isinstance(param, IntParam) and not param.log:
            grid[key] = list(range(param.low, param.high + 1, param.step))
        elif isinstance(param, FloatParam) and param.step is not None:
            count = math.floor((param.high - param.low) / param.step + 1e-9) + 1
            grid[key] = [round(param.low + i * param.step, 12) for i in range(count)]
        else:
            raise UserError(f"{where}: space.{key}: the grid sampler needs a choice list or a stepped, "
                            f"non-log range; give `values: [...]` or a `step`, or use sampler kind random/tpe")
    return grid


def grid_size(space: Space, where: str) -> int:
    """Number of combinations in the grid of `space`."""
    return math.prod(len(values) for values in grid_values(space, where).values())


def suggest(trial: Any, space: Space) -> dict[str, Any]:
    """Draw (or, for an enqueued retry, replay) one value per parameter through an Optuna trial."""
    params = {}
    for key, param in sorted(space.items()):
        if isinstance(param, ChoiceParam):
            params[key] = param.decode(trial.suggest_categorical(key, param.encoded()))
        elif isinstance(param, IntParam):
            params[key] = trial.suggest_int(key, param.low, param.high, step=param.step, log=param.log)
        else:
            params[key] = trial.suggest_float(key, param.low, param.high, step=param.step, log=param.log)
    return params


def example(space: Space) -> dict[str, Any]:
    """One valid value per parameter (the first choice, or low), to check the keys before any trial runs."""
    return {key: (p.values[0] if isinstance(p, ChoiceParam) else p.low) for key, p in space.items()}


def yaml_scalar(value: Any) -> str:
    """`value` as the YAML an override parses back to the same value (1e-05 -> 1.0e-05, '3' stays a string)."""
    return yaml.safe_dump([value], default_flow_style=True, width=1 << 20).strip()[1:-1]


def as_overrides(params: dict[str, Any]) -> list[str]:
    """`key=value` overrides for plait.config.load_experiment."""
    return [f"{key}={yaml_scalar(value)}" for key, value in sorted(params.items())]
