"""The sweep file: a base experiment, a search space over its config keys, a sampler, a pruner and a metric."""

from __future__ import annotations

import json

from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from plait.core.strict import Strict
from plait.core.fields import FolderName

Scalar = Union[bool, int, float, str, None]


class ChoiceParam(Strict):
    """One of a list of values (categorical)."""

    kind: Literal["choice"] = "choice"
    """Parameter kind (the discriminator); a plain YAML list is read as a choice."""
    values: list[Scalar | dict[str, Any]] = Field(min_length=1)
    """The values to choose from: scalars, or mappings that replace a whole config section (e.g. a
    `train.schedule` with its own settings per kind)."""

    def encoded(self) -> list[Scalar]:
        """The values as Optuna's categorical choices take them: a mapping as its canonical JSON text."""
        return [json.dumps(v, sort_keys=True) if isinstance(v, dict) else v for v in self.values]

    def decode(self, value: Scalar) -> Any:
        """The value an encoded choice stands for."""
        for original, code in zip(self.values, self.encoded()):
            if isinstance(original, dict) and code == value:
                return original
        return value


class IntParam(Strict):
    """An integer in [low, high]."""

    kind: Literal["int"] = "int"
    """Parameter kind (the discriminator)."""
    low: int
    """Smallest value."""
    high: int
    """Largest value (inclusive)."""
    step: int = Field(1, ge=1)
    """Spacing between values (1 when log is true)."""
    log: bool = False
    """Sample on a log scale."""

    @model_validator(mode="after")
    def _checks(self) -> "IntParam":
        _check_range(self.low, self.high, self.log, self.step != 1)
        return self


class FloatParam(Strict):
    """A real number in [low, high]."""

    kind: Literal["float"] = "float"
    """Parameter kind (the discriminator)."""
    low: float
    """Smallest value."""
    high: float
    """Largest value (inclusive)."""
    step: float | None = Field(None, gt=0)
    """Spacing between values (None = continuous; not with log)."""
    log: bool = False
    """Sample on a log scale (a 'log range', e.g. learning rates)."""

    @model_validator(mode="after")
    def _checks(self) -> "FloatParam":
        _check_range(self.low, self.high, self.log, self.step is not None)
        return self


def _check_range(low: float, high: float, log: bool, stepped: bool) -> None:
    if high < low:
        raise ValueError(f"high ({high}) must be >= low ({low})")
    if log and low <= 0:
        raise ValueError(f"a log range needs low > 0, got {low}")
    if log and stepped:
        raise ValueError("a log range takes no step")


def _list_is_choice(value: Any) -> Any:
    return {"kind": "choice", "values": value} if isinstance(value, list) else value


Param = Annotated[
    Union[ChoiceParam, IntParam, FloatParam], Field(discriminator="kind"), BeforeValidator(_list_is_choice)
]


class GridSampler(Strict):
    """Every combination of the space (choices and stepped ranges), in a shuffled order."""

    kind: Literal["grid"] = "grid"
    """Sampler kind (the discriminator)."""
    seed: int = 0
    """Seed of the shuffle."""


class RandomSampler(Strict):
    """Independent uniform (or log-uniform) draws."""

    kind: Literal["random"] = "random"
    """Sampler kind (the discriminator)."""
    seed: int = 0
    """Seed of the draws."""


class TpeSampler(Strict):
    """Bayesian optimisation with Optuna's tree-structured Parzen estimator."""

    kind: Literal["tpe"] = "tpe"
    """Sampler kind (the discriminator)."""
    seed: int = 0
    """Seed of the sampler."""
    n_startup_trials: int = Field(10, ge=0)
    """Random trials before TPE starts modelling."""
    multivariate: bool = True
    """Model the parameters jointly rather than one by one."""
    constant_liar: bool = True
    """Treat running trials as bad ones so parallel workers explore different points."""


Sampler = Annotated[Union[GridSampler, RandomSampler, TpeSampler], Field(discriminator="kind")]


class NoPruner(Strict):
    """Every trial trains to the end."""

    kind: Literal["none"] = "none"
    """Pruner kind (the discriminator)."""


class MedianPruner(Strict):
    """Stop a trial whose validation metric is worse than the median of earlier trials at the same step."""

    kind: Literal["median"] = "median"
    """Pruner kind (the discriminator)."""
    n_startup_trials: int = Field(5, ge=0)
    """Trials that always run to the end before any pruning."""
    n_warmup_steps: int = Field(0, ge=0)
    """Optimizer steps before a trial may be pruned."""


class SuccessiveHalvingPruner(Strict):
    """Asynchronous successive halving: keep the best 1/reduction_factor of trials at each rung."""

    kind: Literal["successive_halving"] = "successive_halving"
    """Pruner kind (the discriminator)."""
    min_resource: int | Literal["auto"] = "auto"
    """Optimizer steps of the first rung ('auto' = from the first finished trial)."""
    reduction_factor: int = Field(3, ge=2)
    """Share of trials promoted to the next rung is 1/reduction_factor."""


class HyperbandPruner(Strict):
    """Hyperband: successive halving over several brackets of min_resource."""

    kind: Literal["hyperband"] = "hyperband"
    """Pruner kind (the discriminator)."""
    min_resource: int = Field(1, ge=1)
    """Smallest number of optimizer steps a trial gets."""
    max_resource: int | Literal["auto"] = "auto"
    """Largest number of optimizer steps ('auto' = from the first finished trial)."""
    reduction_factor: int = Field(3, ge=2)
    """Share of trials promoted to the next rung is 1/reduction_factor."""


Pruner = Annotated[
    Union[NoPruner, MedianPruner, SuccessiveHalvingPruner, HyperbandPruner], Field(discriminator="kind")
]


class SweepConfig(Strict):
    """A hyper-parameter search: trials are ordinary runs of `experiment` with the searched keys overridden."""

    name: FolderName
    """Sweep name; the sweep folder is `<output_dir>/<name>`. Defaults to the sweep file name."""
    experiment: str
    """Base experiment (YAML or file.py:function), relative to the sweep file."""
    overrides: list[str] = []
    """Fixed `key=value` overrides applied to the base experiment in every trial."""
    space: dict[str, Param] = Field(min_length=1)
    """Searched config keys (dotted, e.g. train.lr) and their ranges; a YAML list is a choice."""
    sampler: Sampler = TpeSampler()
    """How configurations are chosen."""
    pruner: Pruner = NoPruner()
    """Early stopping of bad trials on the validation metric logged every train.eval_every steps."""
    metric: str | None = None
    """Objective: a metric of eval.metrics, or 'loss' (the last in-training validation loss); None = eval.headline."""
    split: Literal["validation", "test"] = "validation"
    """Split the objective is read from (added to eval.splits when missing); pick on validation, report on test."""
    direction: Literal["maximize", "minimize"] | None = None
    """Optimisation direction; None = minimize for loss and ter, maximize otherwise."""
    n_trials: int | None = Field(None, ge=1)
    """Trials that must end (complete, pruned, or failed by an error; repeats of a configuration included);
    None = the grid size (grid sampler only)."""
    seeds: list[int] | None = Field(None, min_length=1)
    """Seeds run per configuration (objective = their mean); None = the experiment's own seed."""
    skip_duplicates: bool = True
    """A configuration the sampler draws again takes the earlier trial's result instead of training again."""
    storage: str | None = None
    """Optuna database URL (e.g. postgresql://...); None = a journal file in the sweep folder."""
    output_dir: str = "sweeps"
    """Folder holding `<name>/` (study journal, trial run directories); relative to the working directory."""
    stale_after_s: int = Field(600, ge=10)
    """A running trial from another host whose worker has not reported for this long is taken as dead."""

    @field_validator("experiment")
    @classmethod
    def _resolve(cls, value: str, info: ValidationInfo) -> str:
        file, sep, func = value.rpartition(":") if ".py:" in value else (value, "", "")
        path = Path(file)
        base = (info.context or {}).get("base_dir")
        if not path.is_absolute() and base:
            path = Path(base) / path
        return f"{path.resolve()}{sep}{func}"

    @field_validator("storage")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and "://" not in value:
            raise ValueError("expected a database URL such as postgresql://user@host/db or sqlite:///file.db")
        return value

    @field_validator("overrides")
    @classmethod
    def _overrides(cls, value: list[str]) -> list[str]:
        bad = [item for item in value if "=" not in item]
        if bad:
            raise ValueError(f"expected key.sub=value items, got {bad}")
        return value

    @model_validator(mode="after")
    def _checks(self) -> "SweepConfig":
        if self.n_trials is None and self.sampler.kind != "grid":
            raise ValueError("n_trials is required unless the sampler is grid (which defaults to the grid size)")
        return self
