"""Reload a finished run's experiment and model (kept apart from the training pipeline so
chat, serve, predict and eval start without importing the Trainer)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator

import yaml
from pydantic import ValidationError

from plait.errors import UserError
from plait.runs.rundir import RunDir


def load_run(path: str | Path) -> tuple[RunDir, Any, Any]:
    """(run directory, Experiment, Built) of a run with a saved model; one UserError line when it is damaged."""
    from plait.models.family import get_family, saved_family

    run = RunDir(Path(path))
    if not run.config.exists():
        raise UserError(f"{path}: not a run directory (no config.yaml)")
    if not (run.model / "plait_model.json").exists():
        raise UserError(f"{path}: the run has no saved model (status: {run.status().state or '?'})")
    exp = load_saved_experiment(run)
    saved_family(run.model)  # plait_model.json readable, or one line naming it
    with damaged_run(run.model):
        built = get_family(exp.model.family).load(run.model)
    return run, exp, built


def load_saved_experiment(run: RunDir) -> Any:
    """The Experiment a run saved in config.yaml; UserError naming the file when it is not one."""
    from plait.core.loader import read_utf8
    from plait.config.schema import Experiment

    try:
        return Experiment.model_validate(yaml.safe_load(read_utf8(run.config)))
    except (yaml.YAMLError, ValidationError, TypeError) as err:
        first = err.errors()[0]["msg"] if isinstance(err, ValidationError) else str(err).splitlines()[0]
        raise UserError(f"{run.config}: not the experiment plait saved ({type(err).__name__}: {first}); "
                        "the run directory is damaged") from err


@contextlib.contextmanager
def damaged_run(folder: Path) -> Iterator[None]:
    """Turn a failure to read a saved model (truncated weights, garbage tokenizer or config, a pickle payload)
    into one line naming the folder; the original error stays chained for --debug."""
    try:
        yield
    except UserError:
        raise
    except Exception as err:  # noqa: BLE001  (safetensors, tokenizers, json and transformers each raise their own)
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        detail = f"{type(err).__name__}: {lines[0][:200]}" if lines else type(err).__name__
        raise UserError(f"{folder}: the saved model cannot be loaded ({detail}); the run directory is damaged: "
                        "restore it or train again") from err
